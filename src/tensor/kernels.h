// The model's kernels, each a forward/backward pair of free functions (llm.c style).
//
// Conventions
//   * Outputs come first, then inputs, then sizes. `d` prefixes a gradient.
//   * Shapes: B batch, T time (sequence), C channels, V vocabulary, NH heads,
//     hs = C/NH head size, OC output channels, N = B*T rows. Row-major throughout.
//   * Every backward ACCUMULATES (+=) into its gradient outputs, so gradients of
//     parameters add up over micro-batches and over the branches of a residual.
//     Callers zero gradient buffers when they start a new accumulation.
//   * Every kernel is instantiated for float (training) and double (gradient checks).
//   * Matrix products go through cblas_sgemm / cblas_dgemm (tensor/blas.h).
//   * No output may alias an input, except residual_forward's out (may be a or b).
//   * Token ids and targets must lie in [0, V); kernels do not check (hot path).
//   * Kernels allocate nothing and keep no state: safe to call from many threads at
//     once (with one BLAS thread per caller; see set_blas_threads).
#pragma once
#include <cstddef>
#include <cstdint>

namespace plait::kernels {

// How a backward kernel writes a gradient output: add into it (the default, see above)
// or overwrite it (the same values as accumulating into zeros, without the zeroing
// pass or reading the old values).
enum class Into { accumulate, overwrite };

// out[B,T,C] = wte[tokens[b,t], :] + wpe[t, :]
template <class F>
void encoder_forward(F* out, const int32_t* tokens, const F* wte, const F* wpe,
                     int B, int T, int C);
// dwte[V,C] += scatter of dout by token; dwpe[T,C] += sum over b of dout
template <class F>
void encoder_backward(F* dwte, F* dwpe, const F* dout, const int32_t* tokens,
                      int B, int T, int C);

// out[N,C] = (inp - mean) * rstd * w + b, per row; eps = 1e-5.
// mean[N], rstd[N] are saved for the backward pass.
template <class F>
void layernorm_forward(F* out, F* mean, F* rstd, const F* inp, const F* w, const F* b,
                       int N, int C);
// dinp += ... (= with Into::overwrite); dw, db accumulate.
template <class F>
void layernorm_backward(F* dinp, F* dw, F* db, const F* dout, const F* inp, const F* w,
                        const F* mean, const F* rstd, int N, int C,
                        Into mode = Into::accumulate);

// out[N,OC] = inp[N,C] . weight[OC,C]^T + bias[OC]   (bias may be nullptr)
template <class F>
void matmul_forward(F* out, const F* inp, const F* weight, const F* bias,
                    int N, int C, int OC);
// dinp[N,C] += dout[N,OC] . weight[OC,C]   (dinp = ... with Into::overwrite)
// dweight[OC,C] += dout^T . inp;  dbias[OC] += column sums of dout (dbias may be nullptr)
// dinp may be nullptr (no gradient needed for the input). Overwriting gives the same
// values as accumulating into zeros, without the zeroing pass or reading dinp.
template <class F>
void matmul_backward(F* dinp, F* dweight, F* dbias, const F* dout, const F* inp,
                     const F* weight, int N, int C, int OC, Into dinp_mode = Into::accumulate);

// Causal self-attention over qkv[B,T,3C], each row laid out q[C] | k[C] | v[C], and
// inside each, head h owns channels [h*hs, (h+1)*hs).
// att[B,NH,T,T]: softmax(q.k^T / sqrt(hs)) with the causal mask (entries t2 > t are 0).
// out[B,T,C]: att . v, heads concatenated.
// C and NH may be a tensor-parallel shard's (a subset of the heads): hs = C/NH.
template <class F>
void attention_forward(F* out, F* att, const F* qkv, int B, int T, int C, int NH);
// dqkv[B,T,3C] += ... (= with Into::overwrite); datt[B,NH,T,T] is scratch (overwritten).
template <class F>
void attention_backward(F* dqkv, F* datt, const F* dout, const F* qkv, const F* att,
                        int B, int T, int C, int NH, Into mode = Into::accumulate);

// out = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
template <class F>
void gelu_forward(F* out, const F* inp, size_t n);
// dinp[n] += gelu'(inp) * dout   (dinp = ... with Into::overwrite)
template <class F>
void gelu_backward(F* dinp, const F* inp, const F* dout, size_t n,
                   Into mode = Into::accumulate);
// A product's bias and the GELU after it in one pass (c_fc computed without its bias):
// pre[N,H] += bias[H] in place (pre becomes the layer's output), out[N,H] = gelu(pre).
template <class F>
void bias_gelu_forward(F* out, F* pre, const F* bias, int N, int H);
// dpre[N,H] = gelu'(pre) * dout (overwritten), and dbias[H] += column sums of dpre, in
// the same pass and the same order of sums as matmul_backward's (dbias may be nullptr).
template <class F>
void bias_gelu_backward(F* dpre, F* dbias, const F* pre, const F* dout, int N, int H);

// out = a + b
template <class F>
void residual_forward(F* out, const F* a, const F* b, size_t n);
// da += dout; db += dout
template <class F>
void residual_backward(F* da, F* db, const F* dout, size_t n);
// out[N,C] = a + (b + bias[C]) per row (bias may be nullptr): the residual add of a
// projection computed without its bias. out may alias a or b.
template <class F>
void residual_bias_forward(F* out, const F* a, const F* b, const F* bias, int N, int C);

// probs[N,V] = softmax(logits); losses[N] = -log probs[n, targets[n]]
// Rows are Vp apart (0: V); columns [V, Vp) of a padded vocabulary are masked out:
// probs 0 there, and backward leaves their dlogits untouched.
template <class F>
void softmax_crossentropy_forward(F* probs, F* losses, const F* logits,
                                  const int32_t* targets, int N, int V, int Vp = 0);
// dlogits[N,V] += (probs - onehot(targets)) * dlosses[n]
// (= with Into::overwrite, which also writes 0 into the padded columns [V, Vp))
template <class F>
void softmax_crossentropy_backward(F* dlogits, const F* probs, const int32_t* targets,
                                   const F* dlosses, int N, int V, int Vp = 0,
                                   Into mode = Into::accumulate);

}  // namespace plait::kernels
