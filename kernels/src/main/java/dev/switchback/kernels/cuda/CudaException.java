package dev.switchback.kernels.cuda;

/** A CUDA call that failed, or a device that cannot be used; the message names the call and the CUDA error. */
public final class CudaException extends IllegalStateException {
    public CudaException(String message) {
        super(message);
    }

    public CudaException(String message, Throwable cause) {
        super(message, cause);
    }

    /**
     * What a failed downcall threw, to rethrow: runtime exceptions (a CudaException naming the call among them) as
     * they are, errors thrown here, anything else wrapped with {@code what}.
     */
    static RuntimeException rethrow(Throwable t, String what) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new CudaException(what, t);
    }
}
