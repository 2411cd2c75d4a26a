"""Shopwatch and Pubwatch radio schemes: the control room's base radio on a serial line (Tait CCDI or Kenwood
FleetSync), its members' emergencies, status codes and texts as events, and the room's replies as commands."""
