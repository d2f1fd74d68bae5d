"""A simulated calibration bench: real SCPI and Modbus TCP servers on 127.0.0.1.

This package never imports labctl: the simulators are written from the instruments'
manuals, not from labctl's drivers, so a driver mistake cannot be mirrored here.
"""
