// Who calls the management API when it is not an API key: JWT bearer tokens (SPEC §14).
