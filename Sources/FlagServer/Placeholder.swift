// FlagServer
