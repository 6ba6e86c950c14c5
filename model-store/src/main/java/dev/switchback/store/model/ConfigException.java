package dev.switchback.store.model;

/** A configuration value is invalid; the message names the field and the reason in one line. */
public final class ConfigException extends IllegalArgumentException {
    private final String field;

    public ConfigException(String field, String reason) {
        super(field + ": " + reason);
        this.field = field;
    }

    /** The dotted path of the offending field, e.g. {@code model.dModel}. */
    public String field() {
        return field;
    }
}
