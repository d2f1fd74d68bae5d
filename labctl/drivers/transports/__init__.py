"""The links drivers talk through: ``base`` (the two interfaces, no I/O library), ``visa``
(``VisaTransport``, pyvisa with the ``@py`` backend) and ``modbus`` (``ModbusTcpTransport``,
pymodbus). Import the concrete module you need; this package imports neither library."""
