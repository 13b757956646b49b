"""The store station (门店收银台): what counter staff use at the store's PC.

``counter/`` is the part that runs on the counter PC (the hardware, later the local page
and the offline queue). It talks to the central service only through ``/api/v1``: nothing
in it imports the central service's database, models or services.
"""
