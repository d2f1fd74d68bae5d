"""Instrument drivers: two transports (message-based VISA, register-based Modbus) and one
class per instrument model in vendor folders, seen by procedures through role protocols."""
