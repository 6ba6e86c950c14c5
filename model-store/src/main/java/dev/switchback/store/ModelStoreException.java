package dev.switchback.store;

import java.io.IOException;

/** A model is not in the store, or its folder is incomplete or altered; the message names what and where. */
public final class ModelStoreException extends IOException {
    ModelStoreException(String message) {
        super(message);
    }
}
