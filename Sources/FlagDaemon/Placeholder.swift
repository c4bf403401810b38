// FlagDaemon
