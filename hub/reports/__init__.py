"""Reports (通报, R19, 第二十条–第二十一条): indicators, rollup cells kept from change streams, composed documents."""
