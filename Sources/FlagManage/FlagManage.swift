// The management API (SPEC §14).
