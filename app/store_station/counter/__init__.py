"""What runs on the counter PC: devices (``devices``), card readers (``readers``), serial
readers and the customer display (``serial_devices``), receipts (``receipt``, ``printer``).

This package never imports the central service's database, models or services (a test
checks it): the counter reaches the service only through its REST API.
"""
