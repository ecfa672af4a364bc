"""Services: the LRS's operations, between thin HTTP handlers and the stores."""
