package dev.arbor.accel;

/**
 * Index helpers for shared-memory tiles read by {@code ldmatrix} and written with 16-byte stores or
 * {@code cp.async}: rows of 16-byte chunks whose chunk index is XOR-ed with bits of the row, so that
 * eight consecutive rows at one logical chunk fall into eight different 16-byte bank groups (a
 * conflict-free {@code ldmatrix}), while a row's chunks stay a permutation of the row's own bytes.
 * Results are word indices ({@code int[]} shared arrays), always multiples of 4 (16-byte aligned).
 * Plain static methods: the compiler inlines them.
 */
public final class Swizzle {
    private Swizzle() {}

    /** Tile of 128-byte rows (32 words, 8 chunks, e.g. 64 bf16): word of (row, chunk), physical chunk = {@code chunk ^ (row & 7)}. */
    public static int rowChunk128(int row, int chunk) {
        return row * 32 + ((chunk ^ (row & 7)) << 2);
    }

    /** Tile of 64-byte rows (16 words, 4 chunks, e.g. 32 bf16): physical chunk = {@code chunk ^ ((row >> 1) & 3)}. */
    public static int rowChunk64(int row, int chunk) {
        return row * 16 + ((chunk ^ ((row >> 1) & 3)) << 2);
    }
}
