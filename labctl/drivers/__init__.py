"""Instrument drivers: two transports (message-based VISA, register-based Modbus) and one
class per instrument model in vendor folders, seen by procedures through role protocols.

Layout (one layer per line, imports point down)::

    factory.py            configuration / bench TOML → transport + driver; open_bench()
    fluke/ keysight/ generic/   one driver class per model (Fluke5522A, Keysight34465A,
                          Fluke1594A, Thp1Sensor, DryBlockDB450)
    scpi.py               Setting/Measurement descriptors, validators, parsers, ScpiInstrument
    modbus_device.py      ModbusInstrument: register reads with retry, writes once
    registers.py          Register maps as data; SI conversion of register words
    base.py  retry.py     lifetime and safe state; RetryPolicy for read-only queries
    transports/           VisaTransport (pyvisa @py), ModbusTcpTransport (pymodbus): the only
                          modules importing an I/O library; base.py holds their protocols
    roles.py              Calibrator, Dmm, Thermometer, EnvironmentSensor, TemperatureSource,
                          Identity, EnvironmentReading: all a procedure may rely on

Typical use::

    from labctl.drivers.factory import open_bench

    with open_bench("bench.toml") as bench:       # every instrument checked by *IDN?
        bench.calibrator.source_dc_voltage(10.0)  # validated before any I/O
        bench.calibrator.operate()
        bench.dmm.configure_dc_voltage(10.0, nplc=10)
        reading = bench.dmm.read()                # V; error queue checked after each set
    # leaving the block: calibrator in standby, dry block control off, links closed

Errors are labctl's own (``labctl.errors``): ``ValidationError`` (refused before sending),
``InstrumentError`` (the instrument's error queue or Modbus exception code),
``InstrumentTimeoutError``, ``ConnectionLostError``, ``ResponseError``/``OverloadError``.
This package ``__init__`` imports nothing, so importing ``labctl.drivers.roles`` never
pulls in pyvisa or pymodbus.
"""
