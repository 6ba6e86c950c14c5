package dev.switchback.trainer.data;

/**
 * A tokenized corpus: the training split and the validation split as one token stream each.
 *
 * @param train training tokens
 * @param validation validation tokens (the corpus's fixed split)
 */
public record TokenData(int[] train, int[] validation) {
    public TokenData {
        if (train.length < 2 || validation.length < 2) {
            throw new IllegalArgumentException("corpus too small: " + train.length + " training and " + validation.length
                    + " validation tokens");
        }
    }
}
