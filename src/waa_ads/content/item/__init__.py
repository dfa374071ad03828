"""What an item is, independent of any file format or database.

``definition`` holds the immutable item model (interactions, declarations, rules, feedback);
``responses`` the JSON shape of each interaction's response and its normalization;
``processing`` the parsing and type-checking of response-processing rules (evaluating them
is scoring's work); ``validation`` the cross-reference checks over a whole item. Pure: no
I/O, and no import of any other part of the bank.
"""
