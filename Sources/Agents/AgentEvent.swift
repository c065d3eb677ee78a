// Placeholder so the target builds; the Agents module is being written (drivers + stream-json parsers).
public enum AgentsModule {}
