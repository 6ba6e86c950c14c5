// switchback CUDA kernels: the native engine's decode and prefill step on one device.
//
// Weights are bfloat16 on the device (routers and norm gains float32), activations and the KV cache float32,
// every sum in float32. Each kernel has an extern "C" launcher taking the stream as its first argument and
// device pointers as 64-bit integers; it returns the launch status so the Java side can name the failing call.
// Built by nvcc on the GPU host (dev.switchback.kernels.cuda.NvccBuild) and bound with java.lang.foreign.

#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <stdint.h>

typedef unsigned long long dptr;

#define P(type, v) reinterpret_cast<type>(v)

namespace {

// Programmatic dependent launch (Hopper): every kernel first waits for the kernel before it on the stream to
// finish (its writes visible), then lets the next one start launching, so launch latency overlaps this kernel.
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#define PDL_ENTRY() do { asm volatile("griddepcontrol.wait;" ::: "memory"); asm volatile("griddepcontrol.launch_dependents;"); } while (0)
#else
#define PDL_ENTRY() do { } while (0)
#endif

int g_pdl = 0;  // set by sb_set_pdl on devices that support it

// Weights do not depend on the kernel before: a matmul without groups asks L2 for its block's weight rows before it
// waits for that kernel, so with PDL the weights stream in while the previous kernel finishes.
constexpr bool PREFETCH_WEIGHTS = true;

__device__ __forceinline__ void prefetch_l2(const void* p) {
    asm volatile("prefetch.global.L2 [%0];" :: "l"(p));
}

// Launches a kernel, with the programmatic-serialization attribute when PDL is on; returns the launch status.
template <typename... KArgs, typename... Args>
cudaError_t launch(cudaStream_t s, dim3 grid, dim3 block, size_t smem, void (*kernel)(KArgs...), Args... args) {
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = grid;
    cfg.blockDim = block;
    cfg.dynamicSmemBytes = smem;
    cfg.stream = s;
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[0].val.programmaticStreamSerializationAllowed = g_pdl;
    cfg.attrs = attr;
    cfg.numAttrs = 1;
    cudaError_t e = cudaLaunchKernelEx(&cfg, kernel, static_cast<KArgs>(args)...);
    return e != cudaSuccess ? e : cudaGetLastError();
}

constexpr float GELU_C = 0.7978845608028654f;  // sqrt(2/pi), as the CPU kernels

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Block-wide sum or max for blockDim.x a multiple of 32 (≤ 1024); every thread gets the result.
template <bool MAX>
__device__ float block_reduce(float v, float* scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    v = MAX ? warp_max(v) : warp_sum(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    float r = MAX ? -INFINITY : 0.f;
    for (int i = 0; i < warps; i++) r = MAX ? fmaxf(r, scratch[i]) : r + scratch[i];
    return r;
}

__device__ __forceinline__ float bf16_lo(uint32_t w) { return __uint_as_float(w << 16); }
__device__ __forceinline__ float bf16_hi(uint32_t w) { return __uint_as_float(w & 0xffff0000u); }
__device__ __forceinline__ float bf16_at(const uint16_t* p, long i) { return __uint_as_float(((uint32_t) p[i]) << 16); }

__device__ __forceinline__ float gelu(float v) {
    return 0.5f * v * (1.f + tanhf(GELU_C * (v + 0.044715f * v * v * v)));
}

// The KV cache holds float32 or bfloat16 (rounded to nearest even); reads widen to float32.
__device__ __forceinline__ float4 kv_load4(const float* p) { return *reinterpret_cast<const float4*>(p); }
__device__ __forceinline__ float4 kv_load4(const __nv_bfloat16* p) {
    uint2 r = *reinterpret_cast<const uint2*>(p);
    return make_float4(bf16_lo(r.x), bf16_hi(r.x), bf16_lo(r.y), bf16_hi(r.y));
}
__device__ __forceinline__ float kv_load(const float* p) { return *p; }
__device__ __forceinline__ float kv_load(const __nv_bfloat16* p) { return __bfloat162float(*p); }
__device__ __forceinline__ void kv_store(float* p, float v) { *p = v; }
__device__ __forceinline__ void kv_store(__nv_bfloat16* p, float v) { *p = __float2bfloat16(v); }

// Eight consecutive weights as floats: bf16 (one 16-byte load) or f32 (two).
template <typename W>
struct Load8;

template <>
struct Load8<uint16_t> {
    static __device__ __forceinline__ void at(const uint16_t* w, long i, float* f) {
        uint4 r = __ldg(reinterpret_cast<const uint4*>(w + i));
        f[0] = bf16_lo(r.x); f[1] = bf16_hi(r.x); f[2] = bf16_lo(r.y); f[3] = bf16_hi(r.y);
        f[4] = bf16_lo(r.z); f[5] = bf16_hi(r.z); f[6] = bf16_lo(r.w); f[7] = bf16_hi(r.w);
    }
    static __device__ __forceinline__ float one(const uint16_t* w, long i) { return bf16_at(w, i); }
};

template <>
struct Load8<float> {
    static __device__ __forceinline__ void at(const float* w, long i, float* f) {
        float4 a = __ldg(reinterpret_cast<const float4*>(w + i));
        float4 b = __ldg(reinterpret_cast<const float4*>(w + i + 4));
        f[0] = a.x; f[1] = a.y; f[2] = a.z; f[3] = a.w; f[4] = b.x; f[5] = b.y; f[6] = b.z; f[7] = b.w;
    }
    static __device__ __forceinline__ float one(const float* w, long i) { return __ldg(w + i); }
};

enum Mode { STORE = 0, ACCUMULATE = 1, GELU_STORE = 2 };

// Grouped linear: for each group g (an expert; one group when group_start is null) and each of its slots i,
// y[out(i), r] (op)= gate(i) · Σ_c x[in(i), c] · W_g[r, c]. in(i) = in_rows ? in_rows[i] / in_div : i;
// out(i) = out_rows ? out_rows[i] / out_div : i; gate(i) = gates ? gates[out_rows ? out_rows[i] : i] : 1.
// A block's 8 warps cover 8/seg row groups of RPW rows, each split over seg warps by column (so short matrices
// still put enough loads in flight); lanes stride over 8-wide column chunks, NT slots at a time sharing each
// weight load and RPW rows sharing each activation load; the seg partial sums meet in shared memory (seg > 1 only
// with RPW == 1). VEC: cols is a multiple of 8 (16-byte loads), else scalar.
template <typename W, int NT, bool VEC, int RPW>
__global__ void __launch_bounds__(256) linear_kernel(const float* __restrict__ x, const W* __restrict__ w, int rows,
        int cols, float* y, const int* group_start, int n, const int* in_rows, int in_div, const int* out_rows,
        int out_div, const float* gates, int mode, int seg, int groups, int tokens_per_block) {
    __shared__ float partial[8][NT];
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int rows_per_block = 8 / seg;
    int r = (blockIdx.x * rows_per_block + warp / seg) * RPW;
    int part = warp % seg;
    bool live = r < rows;
    if (PREFETCH_WEIGHTS && VEC && !group_start && live && blockIdx.y == 0) {

        // One prefetch per 128-byte line of the rows this warp will read.
        const W* wr0 = w + (long) r * cols;
        for (int c = (part * 32 + lane) * 8; c < cols; c += 32 * seg * 8) {
            if ((c * (int) sizeof(W)) % 128 == 0 || lane == 0) {
#pragma unroll
                for (int q = 0; q < RPW; q++) {
                    if (RPW == 1 || r + q < rows) prefetch_l2(wr0 + (long) q * cols + c);
                }
            }
        }
    }
    PDL_ENTRY();
    // With groups, blockIdx.y picks the blockIdx.y-th non-empty group: a decode step touches few experts, and
    // the grid is launched over min(groups, slots) of them rather than over every expert.
    int g = 0;
    if (group_start) {
        int seen = -1;
        for (g = 0; g < groups; g++) {
            if (group_start[g + 1] > group_start[g] && ++seen == (int) blockIdx.y) break;
        }
        if (g == groups) return;  // fewer non-empty groups than launched: the whole block leaves together
    }
    // Without groups, blockIdx.y picks a run of tokens_per_block slots: a matrix of few rows (a router) then
    // still spreads over enough blocks to fill the device.
    int begin = group_start ? group_start[g] : (int) blockIdx.y * tokens_per_block;
    int end = group_start ? group_start[g + 1] : min(n, begin + tokens_per_block);
    const W* wr = w + ((long) g * rows + (live ? r : 0)) * cols;
    for (int t0 = begin; t0 < end; t0 += NT) {
        float acc[RPW][NT];
        long xoff[NT];
#pragma unroll
        for (int t = 0; t < NT; t++) {
#pragma unroll
            for (int q = 0; q < RPW; q++) acc[q][t] = 0.f;
            int i = t0 + t < end ? t0 + t : t0;
            xoff[t] = (long) (in_rows ? in_rows[i] / in_div : i) * cols;
        }
        if (live) {
            if (VEC) {
                int chunks = cols >> 3;
#pragma unroll 2
                for (int c = part * 32 + lane; c < chunks; c += 32 * seg) {
                    float wf[RPW][8];
#pragma unroll
                    for (int q = 0; q < RPW; q++) {
                        if (RPW == 1 || r + q < rows) {
                            Load8<W>::at(wr, (long) q * cols + c * 8, wf[q]);
                        } else {
#pragma unroll
                            for (int j = 0; j < 8; j++) wf[q][j] = 0.f;
                        }
                    }
#pragma unroll
                    for (int t = 0; t < NT; t++) {
                        const float4* xp = reinterpret_cast<const float4*>(x + xoff[t] + c * 8);
                        float4 a = xp[0], b = xp[1];
#pragma unroll
                        for (int q = 0; q < RPW; q++) {
                            acc[q][t] += wf[q][0] * a.x + wf[q][1] * a.y + wf[q][2] * a.z + wf[q][3] * a.w
                                    + wf[q][4] * b.x + wf[q][5] * b.y + wf[q][6] * b.z + wf[q][7] * b.w;
                        }
                    }
                }
            } else {
                for (int c = part * 32 + lane; c < cols; c += 32 * seg) {
#pragma unroll
                    for (int q = 0; q < RPW; q++) {
                        float wv = RPW == 1 || r + q < rows ? Load8<W>::one(wr, (long) q * cols + c) : 0.f;
#pragma unroll
                        for (int t = 0; t < NT; t++) acc[q][t] += wv * x[xoff[t] + c];
                    }
                }
            }
        }
#pragma unroll
        for (int t = 0; t < NT; t++) {
#pragma unroll
            for (int q = 0; q < RPW; q++) acc[q][t] = warp_sum(acc[q][t]);
        }
        if (RPW == 1 && seg > 1) {
            if (lane == 0) {
#pragma unroll
                for (int t = 0; t < NT; t++) partial[warp][t] = acc[0][t];
            }
            __syncthreads();
            if (part == 0 && lane == 0) {
#pragma unroll
                for (int t = 0; t < NT; t++) {
                    float v = 0.f;
                    for (int j = 0; j < seg; j++) v += partial[warp + j][t];
                    acc[0][t] = v;
                }
            }
            __syncthreads();
        }
        if (live && part == 0 && lane == 0) {
#pragma unroll
            for (int t = 0; t < NT; t++) {
                int i = t0 + t;
                if (i >= end) break;
                int raw = out_rows ? out_rows[i] : i;
                long o = (long) (out_rows ? raw / out_div : i) * rows + r;
                float gt = gates ? gates[raw] : 1.f;
#pragma unroll
                for (int q = 0; q < RPW; q++) {
                    if (RPW > 1 && r + q >= rows) break;
                    float v = acc[q][t] * gt;
                    if (mode == STORE) {
                        y[o + q] = v;
                    } else if (mode == GELU_STORE) {
                        y[o + q] = gelu(v);
                    } else if (out_rows) {
                        atomicAdd(y + o + q, v);  // top-k: two experts may add into one token
                    } else {
                        y[o + q] += v;
                    }
                }
            }
        }
    }
}

// out[i] = x[row(i)] · rsqrt(mean(x²) + eps) · gain, row(i) = rows ? rows[i] : i. One block per row. With
// out_bf16, the same values rounded to BF16 too (the input of a tensor-core matmul that follows).
__global__ void rmsnorm_kernel(const float* x, const int* rows, const float* gain, int d, float eps, float* out,
                               __nv_bfloat16* out_bf16) {
    if (PREFETCH_WEIGHTS && threadIdx.x * 32 < d) prefetch_l2(gain + threadIdx.x * 32);  // the gains: 128-byte lines
    PDL_ENTRY();
    __shared__ float scratch[32];
    int i = blockIdx.x;
    const float* xr = x + (long) (rows ? rows[i] : i) * d;
    float ss = 0.f;
    for (int j = threadIdx.x; j < d; j += blockDim.x) ss += xr[j] * xr[j];
    ss = block_reduce<false>(ss, scratch);
    float inv = rsqrtf(ss / d + eps);
    for (int j = threadIdx.x; j < d; j += blockDim.x) {
        float v = xr[j] * inv * gain[j];
        out[(long) i * d + j] = v;
        if (out_bf16) out_bf16[(long) i * d + j] = __float2bfloat16(v);
    }
}

__global__ void embed_kernel(const uint16_t* emb, const int* ids, int d, float* x) {
    PDL_ENTRY();
    int t = blockIdx.x;
    long base = (long) ids[t] * d;
    for (int j = threadIdx.x; j < d; j += blockDim.x) x[(long) t * d + j] = bf16_at(emb, base + j);
}

// Where position p of the sequence in block-table row s keeps slot `slot`'s key (or value) vectors.
__device__ __forceinline__ long kv_offset(const int* table, int max_blocks, int s, int p, int slot, int slots,
                                          int block_size, int d) {
    int block = table[s * max_blocks + p / block_size];
    return (((long) block * slots + slot) * block_size + p % block_size) * d;
}

// Rotary (half-split) on the q and k parts of qkv [n, 3d], then writes k and v into the cache (KV: float or bf16).
template <typename KV>
__global__ void rotary_kv_kernel(float* qkv, const int* pos, const int* tok_seq, const int* table, int max_blocks,
                                 int slot, int slots, int block_size, int d, int heads, const float* cos_t,
                                 const float* sin_t, KV* kc, KV* vc) {
    PDL_ENTRY();
    int t = blockIdx.x;
    int hs = d / heads, half = hs / 2, p = pos[t];
    float* q = qkv + (long) t * 3 * d;
    float* k = q + d;
    const float* v = q + 2 * d;
    for (int idx = threadIdx.x; idx < heads * half; idx += blockDim.x) {
        int h = idx / half, i = idx % half;
        float c = cos_t[p * half + i], s = sin_t[p * half + i];
        int a = h * hs + i, b = a + half;
        float q1 = q[a], q2 = q[b];
        q[a] = q1 * c - q2 * s;
        q[b] = q1 * s + q2 * c;
        float k1 = k[a], k2 = k[b];
        k[a] = k1 * c - k2 * s;
        k[b] = k1 * s + k2 * c;
    }
    __syncthreads();
    long off = kv_offset(table, max_blocks, tok_seq[t], p, slot, slots, block_size, d);
    for (int j = threadIdx.x; j < d; j += blockDim.x) {
        kv_store(kc + off + j, k[j]);
        kv_store(vc + off + j, v[j]);
    }
}

// Causal attention of one new token and one head over its sequence's cached positions 0..pos (itself included).
// Block (head, token) of 256 threads: the sequence's block-table row goes to shared memory; a thread per
// position computes its score with 16-byte loads of the key row; softmax over the scores; then 16 position
// groups × (hs/4) float4 columns sum the value rows, and the groups' partial sums meet in shared memory.
// Dynamic shared memory: q [hs], scores [max_positions], partial [16][hs], table [max_blocks] (ints).
template <typename KV>
__global__ void attention_kernel(const float* qkv, const int* pos, const int* tok_seq, const int* table,
                                 int max_blocks, int slot, int slots, int block_size, int d, int heads, float scale,
                                 const KV* kc, const KV* vc, float* out, int max_positions,
                                 __nv_bfloat16* out_bf16) {
    PDL_ENTRY();
    extern __shared__ float smem[];
    __shared__ float scratch[32];
    int h = blockIdx.x, t = blockIdx.y;
    int hs = d / heads, p_end = pos[t] + 1, s = tok_seq[t];
    float* q = smem;
    float* scores = smem + hs;
    float* partial = scores + max_positions;
    int* blocks = reinterpret_cast<int*>(partial + 16 * hs);
    for (int i = threadIdx.x; i < hs; i += blockDim.x) q[i] = qkv[(long) t * 3 * d + h * hs + i];
    for (int b = threadIdx.x; b < max_blocks; b += blockDim.x) blocks[b] = table[s * max_blocks + b];
    __syncthreads();
    long slot_stride = (long) block_size * d;
    long block_stride = (long) slots * slot_stride;
    long base = (long) slot * slot_stride + h * hs;
    bool vec = (hs & 3) == 0 && (d & 3) == 0;
    float mx = -INFINITY;
    for (int p = threadIdx.x; p < p_end; p += blockDim.x) {
        const KV* kr = kc + blocks[p / block_size] * block_stride + base + (long) (p % block_size) * d;
        float dot = 0.f;
        if (vec) {
            for (int i = 0; i < hs; i += 4) {
                float4 k4 = kv_load4(kr + i);
                dot += q[i] * k4.x + q[i + 1] * k4.y + q[i + 2] * k4.z + q[i + 3] * k4.w;
            }
        } else {
            for (int i = 0; i < hs; i++) dot += q[i] * kv_load(kr + i);
        }
        dot *= scale;
        scores[p] = dot;
        mx = fmaxf(mx, dot);
    }
    mx = block_reduce<true>(mx, scratch);
    float sum = 0.f;
    for (int p = threadIdx.x; p < p_end; p += blockDim.x) {
        float e = __expf(scores[p] - mx);
        scores[p] = e;
        sum += e;
    }
    sum = block_reduce<false>(sum, scratch);
    __syncthreads();
    int width = vec ? hs / 4 : hs;       // columns, float4 or float
    int groups = blockDim.x / width;     // position groups
    if (groups > 16) groups = 16;
    int col = threadIdx.x % width, grp = threadIdx.x / width;
    if (grp < groups) {
        if (vec) {
            float4 acc = make_float4(0.f, 0.f, 0.f, 0.f);
            for (int p = grp; p < p_end; p += groups) {
                float4 v4 = kv_load4(vc + blocks[p / block_size] * block_stride + base + (long) (p % block_size) * d
                        + col * 4);
                float w = scores[p];
                acc.x += w * v4.x; acc.y += w * v4.y; acc.z += w * v4.z; acc.w += w * v4.w;
            }
            float* dst = partial + grp * hs + col * 4;
            dst[0] = acc.x; dst[1] = acc.y; dst[2] = acc.z; dst[3] = acc.w;
        } else {
            float acc = 0.f;
            for (int p = grp; p < p_end; p += groups) {
                acc += scores[p] * kv_load(vc + blocks[p / block_size] * block_stride + base + (long) (p % block_size) * d + col);
            }
            partial[grp * hs + col] = acc;
        }
    }
    __syncthreads();
    float inv = 1.f / sum;
    for (int i = threadIdx.x; i < hs; i += blockDim.x) {
        float acc = 0.f;
        for (int g = 0; g < groups; g++) acc += partial[g * hs + i];
        out[(long) t * d + h * hs + i] = acc * inv;
        if (out_bf16) out_bf16[(long) t * d + h * hs + i] = __float2bfloat16(acc * inv);
    }
}

// Routing of n tokens in one block. Learned (logits != null): softmax over the experts, the k most probable
// (ties to the lower index), gates renormalised over the k when k > 1. Hash (table != null): the table's expert
// of the token (bigram: shifted by the previous token), gate 1. Then capacity, taking assignments by rank and
// then token order (every first choice before any second), and grouping of the kept ones per expert.
// Per-expert routed/dropped counts accumulate on the device.
__global__ void route_kernel(const float* logits, int n, int experts, int k, int capacity, const int* table,
                             int bigram, const int* ids, const int* prev, int* expert, float* gate, int* slot,
                             int* group_start, int* grouped, unsigned long long* routed_total,
                             unsigned long long* dropped_total) {
    PDL_ENTRY();
    extern __shared__ int counts[];
    for (int t = threadIdx.x; t < n; t += blockDim.x) {
        if (table) {
            int e = table[ids[t]];
            if (bigram) {
                long long m = (1000003LL * prev[t]) % experts;
                if (m < 0) m += experts;
                e = (int) ((e + m) % experts);
            }
            expert[t] = e;
            gate[t] = 1.f;
            continue;
        }
        const float* l = logits + (long) t * experts;
        float mx = -INFINITY;
        for (int e = 0; e < experts; e++) mx = fmaxf(mx, l[e]);
        float sum = 0.f;
        for (int e = 0; e < experts; e++) sum += expf(l[e] - mx);
        float chosen_sum = 0.f;
        for (int j = 0; j < k; j++) {
            int best = -1;
            for (int e = 0; e < experts; e++) {
                bool taken = false;
                for (int i = 0; i < j; i++) taken |= expert[t * k + i] == e;
                if (!taken && (best < 0 || l[e] > l[best])) best = e;
            }
            float prob = expf(l[best] - mx) / sum;
            expert[t * k + j] = best;
            gate[t * k + j] = prob;
            chosen_sum += prob;
        }
        if (k > 1) {
            for (int j = 0; j < k; j++) gate[t * k + j] /= chosen_sum;
        }
    }
    __syncthreads();
    for (int e = threadIdx.x; e < experts; e += blockDim.x) {
        int kept = 0, dropped = 0;
        for (int j = 0; j < k; j++) {
            for (int t = 0; t < n; t++) {
                int a = t * k + j;
                if (expert[a] != e) continue;
                if (kept < capacity) {
                    slot[a] = kept++;
                } else {
                    slot[a] = -1;
                    dropped++;
                }
            }
        }
        counts[e] = kept;
        routed_total[e] += kept;
        dropped_total[e] += dropped;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        int acc = 0;
        for (int e = 0; e < experts; e++) {
            group_start[e] = acc;
            acc += counts[e];
        }
        group_start[experts] = acc;
    }
    __syncthreads();
    for (int a = threadIdx.x; a < n * k; a += blockDim.x) {
        if (slot[a] >= 0) grouped[group_start[expert[a]] + slot[a]] = a;
    }
}

// One rank's slots when it holds any set of a block's experts, some as one copy of several: local group j is expert
// local[3j], whose routed slots are split into local[3j+2] contiguous near-equal shares (share i starts at
// count·i / copies), of which this rank takes share local[3j+1]. The shares' slots are written back to back into
// out_grouped, their starts into out_start (groups + 1 entries), so the grouped linear kernel runs on them as on
// route_kernel's own table.
__global__ void share_kernel(const int* group_start, const int* grouped, const int* local, int groups, int* out_start,
                             int* out_grouped) {
    PDL_ENTRY();
    extern __shared__ int starts[];
    if (threadIdx.x == 0) {
        int acc = 0;
        for (int j = 0; j < groups; j++) {
            int e = local[3 * j], i = local[3 * j + 1], copies = local[3 * j + 2];
            int count = group_start[e + 1] - group_start[e];
            starts[j] = acc;
            acc += (int) ((long long) count * (i + 1) / copies - (long long) count * i / copies);
        }
        starts[groups] = acc;
    }
    __syncthreads();
    for (int j = threadIdx.x; j <= groups; j += blockDim.x) out_start[j] = starts[j];
    for (int j = 0; j < groups; j++) {
        int e = local[3 * j], i = local[3 * j + 1], copies = local[3 * j + 2];
        int count = group_start[e + 1] - group_start[e];
        int from = group_start[e] + (int) ((long long) count * i / copies);
        int len = starts[j + 1] - starts[j];
        for (int t = threadIdx.x; t < len; t += blockDim.x) out_grouped[starts[j] + t] = grouped[from + t];
    }
}

// The entry-th non-empty group of group_start (groups + 1 starts), or -1 when there are fewer; *last is then the
// last non-empty group (0 when none is).
__device__ int nth_group(const int* group_start, int groups, int entry, int* last) {
    int seen = -1;
    *last = 0;
    for (int j = 0; j < groups; j++) {
        if (group_start[j + 1] > group_start[j]) {
            *last = j;
            if (++seen == entry) return j;
        }
    }
    return -1;
}

// Experts as batched tensor-core matmuls (cuBLAS): entry e of the batch is the e-th non-empty group (an expert, or a
// share of one) of the grouped slots. Block (e, j) copies the j-th kept token's row of x (slot grouped[start + j],
// token slot / k) to xe[e][j] as BF16, or zeros past the group's end; row 0 also writes entry e's six pointers
// (W1, xe, he; W2, heb, oe, `stride` apart) for the two batched matmuls. The batch count is fixed when a step is
// captured, so entries past the non-empty groups point at the last non-empty group's weights (the same matmul has
// just read them) with zero inputs and outputs that nobody reads. Routing kept at most `capacity` slots per group.
__global__ void expert_gather_kernel(const int* group_start, const int* grouped, int groups, int k, int capacity,
                                     const float* x, int d, int d_ff, const uint16_t* w1, const uint16_t* w2,
                                     __nv_bfloat16* xe, float* he, __nv_bfloat16* heb, float* oe, dptr* ptrs,
                                     int stride) {
    PDL_ENTRY();
    int e = blockIdx.x, j = blockIdx.y, last;
    int g = nth_group(group_start, groups, e, &last);
    int size = g < 0 ? 0 : group_start[g + 1] - group_start[g];
    if (j == 0 && threadIdx.x == 0) {
        long wg = g < 0 ? last : g;
        ptrs[e] = (dptr) (w1 + wg * d_ff * d);
        ptrs[stride + e] = (dptr) (xe + (long) e * capacity * d);
        ptrs[2 * stride + e] = (dptr) (he + (long) e * capacity * d_ff);
        ptrs[3 * stride + e] = (dptr) (w2 + wg * d * d_ff);
        ptrs[4 * stride + e] = (dptr) (heb + (long) e * capacity * d_ff);
        ptrs[5 * stride + e] = (dptr) (oe + (long) e * capacity * d);
    }
    __nv_bfloat16* dst = xe + ((long) e * capacity + j) * d;
    if (j < size) {
        const float* src = x + (long) (grouped[group_start[g] + j] / k) * d;
        for (int c = threadIdx.x; c < d; c += blockDim.x) dst[c] = __float2bfloat16(src[c]);
    } else {
        for (int c = threadIdx.x; c < d; c += blockDim.x) dst[c] = __float2bfloat16(0.f);
    }
}

// out = BF16(GELU(h)) over n floats, the next tensor-core matmul's input; with write_back also h = GELU(h).
__global__ void gelu_bf16_kernel(float* h, long n, __nv_bfloat16* out, int write_back) {
    PDL_ENTRY();
    for (long i = blockIdx.x * (long) blockDim.x + threadIdx.x; i < n; i += (long) gridDim.x * blockDim.x) {
        float v = gelu(h[i]);
        out[i] = __float2bfloat16(v);
        if (write_back) h[i] = v;
    }
}

// Adds each kept token's expert output back: block (e, j) takes row j of entry e (as expert_gather_kernel numbers
// them) and adds gate · oe[e][j] into target's row of its token (atomically when k > 1: a token's experts may add at
// once). gates null: gate 1.
__global__ void expert_scatter_kernel(const int* group_start, const int* grouped, int groups, int k, int capacity,
                                      const float* oe, int d, const float* gates, float* target) {
    PDL_ENTRY();
    int e = blockIdx.x, j = blockIdx.y, last;
    int g = nth_group(group_start, groups, e, &last);
    if (g < 0 || j >= group_start[g + 1] - group_start[g]) return;
    int a = grouped[group_start[g] + j];
    float gt = gates ? gates[a] : 1.f;
    const float* src = oe + ((long) e * capacity + j) * d;
    float* dst = target + (long) (a / k) * d;
    for (int c = threadIdx.x; c < d; c += blockDim.x) {
        if (k > 1) {
            atomicAdd(dst + c, gt * src[c]);
        } else {
            dst[c] += gt * src[c];
        }
    }
}

__device__ __forceinline__ unsigned long long splitmix64(unsigned long long z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// One token per row of logits [rows, vocab]: greedy when temperature[row] == 0, else a draw from
// softmax(logits / T) restricted to the smallest set of most probable tokens whose mass reaches top_p
// (found by bisection on the probability threshold), with the uniform from splitmix64(seed[row]).
__global__ void sample_kernel(const float* logits, int vocab, const float* temperature, const float* top_p,
                              const unsigned long long* seed, int* out) {
    PDL_ENTRY();
    __shared__ float scratch[32];
    __shared__ float partial[1024];
    __shared__ int winner;
    __shared__ float left_over;
    int row = blockIdx.x;
    const float* l = logits + (long) row * vocab;
    float temp = temperature[row];
    // Greedy: the first index of the maximum, as the CPU sampler.
    float mx = -INFINITY;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) mx = fmaxf(mx, l[i]);
    mx = block_reduce<true>(mx, scratch);
    if (temp <= 0.f) {
        if (threadIdx.x == 0) winner = vocab;
        __syncthreads();
        for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
            if (l[i] == mx) atomicMin(&winner, i);
        }
        __syncthreads();
        if (threadIdx.x == 0) out[row] = winner;
        return;
    }
    float inv_t = 1.f / temp;
    float sum = 0.f;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) sum += __expf((l[i] - mx) * inv_t);
    sum = block_reduce<false>(sum, scratch);
    // Largest threshold tau (a probability) whose kept mass Σ p≥tau still reaches top_p.
    float want = fminf(top_p[row], 1.f) * sum;
    float lo = 0.f, hi = 1.f;  // relative to the max probability (which is exp(0) = 1 before normalising)
    if (top_p[row] < 1.f) {
        for (int it = 0; it < 32; it++) {
            float mid = 0.5f * (lo + hi);
            float mass = 0.f;
            for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
                float e = __expf((l[i] - mx) * inv_t);
                if (e >= mid) mass += e;
            }
            mass = block_reduce<false>(mass, scratch);
            if (mass >= want) lo = mid; else hi = mid;
        }
    }
    float tau = lo;
    // Each thread owns a contiguous range; the uniform falls into one range, which that thread scans.
    int per = (vocab + blockDim.x - 1) / blockDim.x;
    int from = threadIdx.x * per, to = min(vocab, from + per);
    float local = 0.f;
    for (int i = from; i < to; i++) {
        float e = __expf((l[i] - mx) * inv_t);
        if (e >= tau) local += e;
    }
    partial[threadIdx.x] = local;
    if (threadIdx.x == 0) winner = -1;
    __syncthreads();
    if (threadIdx.x == 0) {
        float total = 0.f;
        for (int i = 0; i < blockDim.x; i++) total += partial[i];
        double u = (double) (splitmix64(seed[row]) >> 11) * (1.0 / 9007199254740992.0);
        float target = (float) (u * total);
        float acc = 0.f;
        int owner = -1;
        for (int i = 0; i < blockDim.x; i++) {
            if (partial[i] > 0.f) owner = i;
            if (acc + partial[i] > target && partial[i] > 0.f) { owner = i; break; }
            acc += partial[i];
        }
        left_over = target - acc;  // what is left inside the owner's range
        winner = owner;
    }
    __syncthreads();
    if (threadIdx.x == winner) {
        float left = left_over;
        int last = -1;
        for (int i = from; i < to; i++) {
            float e = __expf((l[i] - mx) * inv_t);
            if (e < tau) continue;
            last = i;
            if (left < e) break;
            left -= e;
        }
        out[row] = last;
    }
}

// out (bf16, round to nearest even) = x (f32), for the tensor-core matmuls' inputs.
__global__ void to_bf16_kernel(const float* x, long n, __nv_bfloat16* out) {
    PDL_ENTRY();
    long i = (long) blockIdx.x * blockDim.x + threadIdx.x;
    long stride = (long) gridDim.x * blockDim.x;
    for (; i < n; i += stride) out[i] = __float2bfloat16_rn(x[i]);
}

__global__ void gelu_kernel(float* y, long n) {
    PDL_ENTRY();
    long i = (long) blockIdx.x * blockDim.x + threadIdx.x;
    long stride = (long) gridDim.x * blockDim.x;
    for (; i < n; i += stride) y[i] = gelu(y[i]);
}

__global__ void copy_kernel(const float* src, float* dst, long n) {
    PDL_ENTRY();
    long i = (long) blockIdx.x * blockDim.x + threadIdx.x;
    long stride = (long) gridDim.x * blockDim.x;
    for (; i < n; i += stride) dst[i] = src[i];
}

template <typename W, int NT>
cudaError_t launch_linear_t(cudaStream_t s, dptr x, dptr w, int rows, int cols, dptr y, int groups, dptr group_start,
                            int n, dptr in_rows, int in_div, dptr out_rows, int out_div, dptr gates, int mode) {
    // Grouped calls (experts: a grid of many row blocks × touched groups, a few slots each) give every warp
    // GROUPED_RPW whole rows, so each lane keeps several weight loads in flight and each activation load serves
    // them all (4 rows measured faster than 8 at batch 16 and 64 on an H100). Otherwise split each row over up to
    // 8 warps so that every lane still has at least two 8-wide chunks.
    constexpr int GROUPED_RPW = 4;
    int chunks = (cols + 7) / 8;
    int seg = 1;
    if (!group_start) {
        while (seg < 8 && chunks >= 64 * seg * 2) seg *= 2;
    }
    int rpw = group_start ? GROUPED_RPW : 1;
    int rows_per_block = 8 / seg * rpw;
    int row_blocks = (rows + rows_per_block - 1) / rows_per_block;
    // n bounds the non-empty groups (each holds at least one of the n slots); with groups, n is the slot count.
    // Without groups, a grid of fewer than ~2 blocks per SM (264 on an H100) splits the slots into runs of NT-slot
    // tiles over blockIdx.y; each run re-reads the (then small) matrix, from L2.
    int tiles = (n + NT - 1) / NT;
    int split = group_start || tiles <= 1 ? 1 : min(tiles, max(1, 264 / row_blocks));
    int tokens_per_block = ((max(tiles, 1) + split - 1) / split) * NT;
    if (!group_start) split = max(1, (n + tokens_per_block - 1) / tokens_per_block);
    dim3 grid(row_blocks, group_start ? (n < groups ? n : groups) : split);
#define SB_LINEAR(VEC, RPW) launch(s, grid, dim3(256), 0, linear_kernel<W, NT, VEC, RPW>, P(const float*, x), P(const W*, w), \
            rows, cols, P(float*, y), P(const int*, group_start), n, P(const int*, in_rows), in_div, P(const int*, out_rows), \
            out_div, P(const float*, gates), mode, seg, groups, tokens_per_block)
    if (cols % 8 == 0) {
        return rpw == 1 ? SB_LINEAR(true, 1) : SB_LINEAR(true, GROUPED_RPW);
    }
    return rpw == 1 ? SB_LINEAR(false, 1) : SB_LINEAR(false, GROUPED_RPW);
#undef SB_LINEAR
}

template <typename W>
cudaError_t launch_linear_w(cudaStream_t s, int tile, dptr x, dptr w, int rows, int cols, dptr y, int groups,
                            dptr group_start, int n, dptr in_rows, int in_div, dptr out_rows, int out_div, dptr gates,
                            int mode) {
    switch (tile) {
        case 1: return launch_linear_t<W, 1>(s, x, w, rows, cols, y, groups, group_start, n, in_rows, in_div, out_rows, out_div, gates, mode);
        case 2: return launch_linear_t<W, 2>(s, x, w, rows, cols, y, groups, group_start, n, in_rows, in_div, out_rows, out_div, gates, mode);
        case 4: return launch_linear_t<W, 4>(s, x, w, rows, cols, y, groups, group_start, n, in_rows, in_div, out_rows, out_div, gates, mode);
        default: return launch_linear_t<W, 8>(s, x, w, rows, cols, y, groups, group_start, n, in_rows, in_div, out_rows, out_div, gates, mode);
    }
}

template <typename KV>
cudaError_t launch_attention(cudaStream_t s, size_t smem, dim3 grid, dptr qkv, dptr pos, dptr tok_seq, dptr table,
                             int max_blocks, int slot, int slots, int block_size, int d, int heads, int max_positions,
                             float scale, dptr kc, dptr vc, dptr out, dptr out_bf16) {
    if (smem > 48 * 1024) {
        cudaError_t e = cudaFuncSetAttribute(attention_kernel<KV>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int) smem);
        if (e != cudaSuccess) return e;
    }
    return launch(s, grid, dim3(256), smem, attention_kernel<KV>, P(const float*, qkv), P(const int*, pos),
            P(const int*, tok_seq), P(const int*, table), max_blocks, slot, slots, block_size, d, heads, scale,
            P(const KV*, kc), P(const KV*, vc), P(float*, out), max_positions, P(__nv_bfloat16*, out_bf16));
}

}  // namespace

extern "C" {

// Version of this kernel library's C interface; the Java binding refuses a library of another version.
int sb_abi_version() { return 7; }

// Turns programmatic dependent launch on or off (on needs compute capability 9.0+).
int sb_set_pdl(int on) {
    g_pdl = on ? 1 : 0;
    return cudaSuccess;
}

// weight_bf16: 1 when w holds bfloat16, 0 for float32. tile: slots sharing one weight load (1, 2, 4 or 8).
int sb_linear(dptr stream, int weight_bf16, int tile, dptr x, dptr w, int rows, int cols, dptr y, int groups,
              dptr group_start, int n, dptr in_rows, int in_div, dptr out_rows, int out_div, dptr gates, int mode) {
    cudaStream_t s = P(cudaStream_t, stream);
    if (groups < 1 || rows < 1 || cols < 1 || in_div < 1 || out_div < 1) return cudaErrorInvalidValue;
    return weight_bf16
            ? launch_linear_w<uint16_t>(s, tile, x, w, rows, cols, y, groups, group_start, n, in_rows, in_div, out_rows, out_div, gates, mode)
            : launch_linear_w<float>(s, tile, x, w, rows, cols, y, groups, group_start, n, in_rows, in_div, out_rows, out_div, gates, mode);
}

// out_bf16: 0, or where to write the normalised rows rounded to BF16 as well.
int sb_rmsnorm(dptr stream, dptr x, dptr rows, int count, dptr gain, int d, float eps, dptr out, dptr out_bf16) {
    if (count < 1) return cudaSuccess;
    return launch(P(cudaStream_t, stream), dim3(count), dim3(256), 0, rmsnorm_kernel, P(const float*, x), P(const int*, rows),
            P(const float*, gain), d, eps, P(float*, out), P(__nv_bfloat16*, out_bf16));
}

int sb_embed(dptr stream, dptr emb, dptr ids, int n, int d, dptr x) {
    return launch(P(cudaStream_t, stream), dim3(n), dim3(256), 0, embed_kernel, P(const uint16_t*, emb), P(const int*, ids), d, P(float*, x));
}

// kv_bf16: 1 when the cache holds bfloat16, 0 for float32.
int sb_rotary_kv(dptr stream, dptr qkv, int n, dptr pos, dptr tok_seq, dptr table, int max_blocks, int slot,
                 int slots, int block_size, int d, int heads, dptr cos_t, dptr sin_t, dptr kc, dptr vc, int kv_bf16) {
#define SB_ROTARY(KV) launch(P(cudaStream_t, stream), dim3(n), dim3(256), 0, rotary_kv_kernel<KV>, P(float*, qkv), \
            P(const int*, pos), P(const int*, tok_seq), P(const int*, table), max_blocks, slot, slots, block_size, d, heads, \
            P(const float*, cos_t), P(const float*, sin_t), P(KV*, kc), P(KV*, vc))
    return kv_bf16 ? SB_ROTARY(__nv_bfloat16) : SB_ROTARY(float);
#undef SB_ROTARY
}

int sb_attention(dptr stream, dptr qkv, int n, dptr pos, dptr tok_seq, dptr table, int max_blocks, int slot,
                 int slots, int block_size, int d, int heads, int max_positions, float scale, dptr kc, dptr vc,
                 dptr out, dptr out_bf16, int kv_bf16) {
    int hs = d / heads;
    if (hs % 4 != 0 && hs > 256) return cudaErrorInvalidValue;  // the scalar value pass needs a thread per column
    size_t smem = (size_t) (hs * 17 + max_positions + max_blocks) * sizeof(float);
    dim3 grid(heads, n);
    cudaStream_t s = P(cudaStream_t, stream);
    return kv_bf16
            ? launch_attention<__nv_bfloat16>(s, smem, grid, qkv, pos, tok_seq, table, max_blocks, slot, slots, block_size,
                    d, heads, max_positions, scale, kc, vc, out, out_bf16)
            : launch_attention<float>(s, smem, grid, qkv, pos, tok_seq, table, max_blocks, slot, slots, block_size, d,
                    heads, max_positions, scale, kc, vc, out, out_bf16);
}

int sb_route(dptr stream, dptr logits, int n, int experts, int k, int capacity, dptr table, int bigram, dptr ids,
             dptr prev, dptr expert, dptr gate, dptr slot, dptr group_start, dptr grouped, dptr routed_total,
             dptr dropped_total) {
    return launch(P(cudaStream_t, stream), dim3(1), dim3(1024), experts * sizeof(int), route_kernel, P(const float*, logits), n, experts, k,
            capacity, P(const int*, table), bigram, P(const int*, ids), P(const int*, prev), P(int*, expert),
            P(float*, gate), P(int*, slot), P(int*, group_start), P(int*, grouped),
            P(unsigned long long*, routed_total), P(unsigned long long*, dropped_total));
}

int sb_share(dptr stream, dptr group_start, dptr grouped, dptr local, int groups, dptr out_start, dptr out_grouped) {
    if (groups < 1) return cudaErrorInvalidValue;
    return launch(P(cudaStream_t, stream), dim3(1), dim3(256), (groups + 1) * sizeof(int), share_kernel,
            P(const int*, group_start), P(const int*, grouped), P(const int*, local), groups, P(int*, out_start),
            P(int*, out_grouped));
}

// entries: the batch count (non-empty groups at most this many); capacity: rows per entry; ptrs: 6 × stride pointers.
int sb_expert_gather(dptr stream, dptr group_start, dptr grouped, int groups, int k, int capacity, int entries, dptr x,
                     int d, int d_ff, dptr w1, dptr w2, dptr xe, dptr he, dptr heb, dptr oe, dptr ptrs, int stride) {
    if (entries < 1 || capacity < 1 || entries > stride || groups < 1) return cudaErrorInvalidValue;
    return launch(P(cudaStream_t, stream), dim3(entries, capacity), dim3(256), 0, expert_gather_kernel,
            P(const int*, group_start), P(const int*, grouped), groups, k, capacity, P(const float*, x), d, d_ff,
            P(const uint16_t*, w1), P(const uint16_t*, w2), P(__nv_bfloat16*, xe), P(float*, he),
            P(__nv_bfloat16*, heb), P(float*, oe), P(dptr*, ptrs), stride);
}

int sb_gelu_bf16(dptr stream, dptr h, long long n, dptr out, int write_back) {
    int blocks = (int) ((n + 255) / 256 < 4096 ? (n + 255) / 256 : 4096);
    return launch(P(cudaStream_t, stream), dim3(blocks > 0 ? blocks : 1), dim3(256), 0, gelu_bf16_kernel,
            P(float*, h), (long) n, P(__nv_bfloat16*, out), write_back);
}

int sb_expert_scatter(dptr stream, dptr group_start, dptr grouped, int groups, int k, int capacity, int entries, dptr oe,
                      int d, dptr gates, dptr target) {
    if (entries < 1 || capacity < 1 || groups < 1) return cudaErrorInvalidValue;
    return launch(P(cudaStream_t, stream), dim3(entries, capacity), dim3(256), 0, expert_scatter_kernel,
            P(const int*, group_start), P(const int*, grouped), groups, k, capacity, P(const float*, oe), d,
            P(const float*, gates), P(float*, target));
}

int sb_sample(dptr stream, dptr logits, int rows, int vocab, dptr temperature, dptr top_p, dptr seed, dptr out) {
    return launch(P(cudaStream_t, stream), dim3(rows), dim3(1024), 0, sample_kernel, P(const float*, logits), vocab,
            P(const float*, temperature), P(const float*, top_p), P(const unsigned long long*, seed), P(int*, out));
}

int sb_to_bf16(dptr stream, dptr x, long long n, dptr out) {
    int blocks = (int) ((n + 255) / 256 < 4096 ? (n + 255) / 256 : 4096);
    return launch(P(cudaStream_t, stream), dim3(blocks > 0 ? blocks : 1), dim3(256), 0, to_bf16_kernel,
            P(const float*, x), (long) n, P(__nv_bfloat16*, out));
}

int sb_gelu(dptr stream, dptr y, long long n) {
    int blocks = (int) ((n + 255) / 256 < 4096 ? (n + 255) / 256 : 4096);
    return launch(P(cudaStream_t, stream), dim3(blocks > 0 ? blocks : 1), dim3(256), 0, gelu_kernel, P(float*, y), (long) n);
}

int sb_copy(dptr stream, dptr src, dptr dst, long long n) {
    return launch(P(cudaStream_t, stream), dim3(1024), dim3(256), 0, copy_kernel, P(const float*, src), P(float*, dst), n);
}

}  // extern "C"
