package dev.switchback.store.tokenizer;

import java.util.Arrays;

/**
 * Open-addressing map from a token pair, packed in a long, to a long; boxing-free because training touches
 * pair counts millions of times.
 */
final class PairMap {
    private static final long EMPTY = -1L;

    private long[] keys;
    private long[] values;
    private int size;

    PairMap(int expected) {
        int capacity = Integer.highestOneBit(Math.max(16, expected * 2 - 1)) << 1;
        keys = new long[capacity];
        values = new long[capacity];
        Arrays.fill(keys, EMPTY);
    }

    /** Packs a pair of non-negative token ids; the packed order is (first, then second) id order. */
    static long pair(int first, int second) {
        return ((long) first << 32) | (second & 0xFFFFFFFFL);
    }

    static int first(long pair) {
        return (int) (pair >>> 32);
    }

    static int second(long pair) {
        return (int) pair;
    }

    long get(long key, long absent) {
        int mask = keys.length - 1;
        for (int i = slot(key, mask); ; i = (i + 1) & mask) {
            long k = keys[i];
            if (k == key) {
                return values[i];
            }
            if (k == EMPTY) {
                return absent;
            }
        }
    }

    void put(long key, long value) {
        int i = find(key);
        values[i] = value;
    }

    /** Adds {@code delta} to the value (0 when absent) and returns the new value. */
    long add(long key, long delta) {
        int i = find(key);
        return values[i] += delta;
    }

    /** Keeps the first value put for a key. */
    void putIfAbsent(long key, long value) {
        int before = size;
        int i = find(key);
        if (size != before) {
            values[i] = value;
        }
    }

    int size() {
        return size;
    }

    void forEach(Entry consumer) {
        for (int i = 0; i < keys.length; i++) {
            if (keys[i] != EMPTY) {
                consumer.accept(keys[i], values[i]);
            }
        }
    }

    /** Receives one key and its value. */
    interface Entry {
        void accept(long key, long value);
    }

    private int find(long key) {
        if (size * 2 >= keys.length) {
            grow();
        }
        int mask = keys.length - 1;
        for (int i = slot(key, mask); ; i = (i + 1) & mask) {
            long k = keys[i];
            if (k == key) {
                return i;
            }
            if (k == EMPTY) {
                keys[i] = key;
                values[i] = 0;
                size++;
                return i;
            }
        }
    }

    private void grow() {
        long[] oldKeys = keys;
        long[] oldValues = values;
        keys = new long[oldKeys.length * 2];
        values = new long[oldKeys.length * 2];
        Arrays.fill(keys, EMPTY);
        int mask = keys.length - 1;
        for (int j = 0; j < oldKeys.length; j++) {
            if (oldKeys[j] != EMPTY) {
                int i = slot(oldKeys[j], mask);
                while (keys[i] != EMPTY) {
                    i = (i + 1) & mask;
                }
                keys[i] = oldKeys[j];
                values[i] = oldValues[j];
            }
        }
    }

    private static int slot(long key, int mask) {
        long h = key * 0x9E3779B97F4A7C15L;
        return (int) (h ^ (h >>> 29) ^ (h >>> 47)) & mask;
    }
}
