// FlagBus
