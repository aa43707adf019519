package dev.arbor.models;

import dev.arbor.models.cuda.ComputeDtype;
import dev.arbor.models.cuda.KvCacheDtype;

/**
 * Where and how a model runs, as the user chose it ({@code --device}, {@code --kv-cache-dtype},
 * {@code --dtype}, {@code --no-batch-invariance}). Every value is checked here, with a message naming it.
 *
 * @param device         cpu | cuda | cuda:N | auto (CUDA device 0 when a driver and device answer, else the CPU; logged)
  * @param kvCacheDtype   auto | bf16 | fp16 | fp32: the KV store's element type (CUDA: auto = bf16; the CPU: auto = fp32, or bf16)
 * @param dtype          auto (= bfloat16) | bfloat16 | float32: on CUDA, bfloat16 runs the projections on tensor cores
 *                       with activations rounded to bf16 as they are loaded; float32 keeps them in float32 through
 *                       CUDA-core kernels (the accuracy mode: with fp32 KV it matches the float32 reference within
 *                       ~1e-3). The CPU always computes in float32.
 * @param batchInvariant a sequence's logits do not depend on the batch around it, its chunking or its cache hits
 *                       (the default): matmul tiles never split K by batch size. false lets the GEMM split K across
 *                       blocks with atomic adds for small batches (faster decode, results may vary in the last bits)
 * @param cudaGraphs     on CUDA, decode steps are captured once per batch-size bucket as a CUDA graph and replayed
 *                       (the default; {@code --no-cuda-graphs} launches every kernel of every step instead). Ignored on the CPU.
 */
public record BackendOptions(String device, String kvCacheDtype, String dtype, boolean batchInvariant, boolean cudaGraphs) {
    public BackendOptions {
        Devices.validate(device);
        KvCacheDtype.parse(kvCacheDtype);
        ComputeDtype.parse(dtype);
    }

    /** With CUDA graphs on (the default). */
    public BackendOptions(String device, String kvCacheDtype, String dtype, boolean batchInvariant) {
        this(device, kvCacheDtype, dtype, batchInvariant, true);
    }

    /** These options with CUDA graphs on or off. */
    public BackendOptions withCudaGraphs(boolean on) {
        return new BackendOptions(device, kvCacheDtype, dtype, batchInvariant, on);
    }

    /** {@code device} with the defaults: bf16 KV, bfloat16 matmuls, batch-invariant. */
    public static BackendOptions of(String device) {
        return new BackendOptions(device, "auto", "auto", true);
    }

    /** The float32 accuracy mode on {@code device}: fp32 KV and float32 matmuls. */
    public static BackendOptions float32(String device) {
        return new BackendOptions(device, "fp32", "float32", true);
    }
}
