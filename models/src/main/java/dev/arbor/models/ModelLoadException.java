package dev.arbor.models;

/**
 * A model could not be loaded: unreadable or inconsistent config, missing or malformed weights.
 * The message always names the file and, where one is involved, the tensor.
 */
public class ModelLoadException extends RuntimeException {
    public ModelLoadException(String message) {
        super(message);
    }

    public ModelLoadException(String message, Throwable cause) {
        super(message, cause);
    }
}
