package dev.switchback.kernels.cuda;

/** A CUDA call that failed, or a device that cannot be used; the message names the call and the CUDA error. */
public final class CudaException extends IllegalStateException {
    public CudaException(String message) {
        super(message);
    }

    public CudaException(String message, Throwable cause) {
        super(message, cause);
    }
}
