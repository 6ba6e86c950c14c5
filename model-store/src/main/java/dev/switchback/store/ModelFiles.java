package dev.switchback.store;

/** File names inside a model folder (format v1). */
public final class ModelFiles {
    public static final String MANIFEST = "model.json";
    public static final String TOKENIZER = "tokenizer.json";
    public static final String WEIGHTS = "model.safetensors";
    public static final String REFERENCE = "reference.json";
    public static final String CHECKSUMS = "SHA256SUMS";
    /** The ONNX graph of a model served by ONNX Runtime (it holds the weights; there is no model.safetensors). */
    public static final String ONNX = "model.onnx";

    private static final String EXPERTS_PREFIX = "experts-";
    private static final String SAFETENSORS = ".safetensors";

    private ModelFiles() {}

    /** The file holding the experts of sparse block {@code layer} (0-based): {@code experts-<layer>.safetensors}. */
    public static String experts(int layer) {
        if (layer < 0) {
            throw new IllegalArgumentException("layer must be >= 0, got " + layer);
        }
        return EXPERTS_PREFIX + layer + SAFETENSORS;
    }

    /** The layer of an {@code experts-<layer>.safetensors} file name, or -1 if it is not one. */
    static int expertsLayer(String fileName) {
        if (!fileName.startsWith(EXPERTS_PREFIX) || !fileName.endsWith(SAFETENSORS)) {
            return -1;
        }
        String digits = fileName.substring(EXPERTS_PREFIX.length(), fileName.length() - SAFETENSORS.length());
        if (digits.isEmpty() || digits.length() > 6 || !digits.chars().allMatch(Character::isDigit)
                || (digits.length() > 1 && digits.charAt(0) == '0')) {
            return -1;
        }
        return Integer.parseInt(digits);
    }

    /** Whether {@code fileName} is a plain name we accept in a model folder (no paths, no odd characters). */
    static boolean isPlainName(String fileName) {
        return fileName.matches("[A-Za-z0-9][A-Za-z0-9._-]*") && fileName.length() <= 255;
    }
}
