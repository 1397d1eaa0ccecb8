"""E2 access for the DU xApp: one interface (:mod:`.base`), direct and OSC implementations."""
