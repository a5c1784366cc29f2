// Native CPU rasterizer kernels; see kernels.h for the array conventions and
// reconstruction/splats/render/native_backend.py for the contract.
//
// Speed notes (FINDINGS.md, "A PyTorch CPU rasterizer is fast enough"): OpenMP over tiles, SIMD over a tile's
// pixels with a branch-free loop body, the exponent clamped at -20 before exp (no denormals), a vectorisable
// exp written out here (no libmvec needed), one gradient buffer per thread, and the backward's closed form run
// front to back: dL/dalpha_i = T_i e_i - S_i / (1 - alpha_i) with S_i = (pixel total) - (running sum).
#include "kernels.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <type_traits>

namespace sharpsplat {
namespace {

template <typename T>
struct K {
  static constexpr T alpha_threshold = T(1.0 / 255.0);  // gsplat ALPHA_THRESHOLD
  static constexpr T max_alpha = T(0.999);
  static constexpr T t_min = T(1e-4);  // a pixel stops before its transmittance falls to this
  static constexpr T log_floor = T(-20.0);  // exp(-20) << 1/255; keeps float exp away from denormals
  static constexpr T max_extent = T(3.33);
};

// exp(x) for x in [-20, 0]: Cephes expf (range reduction by ln 2, degree-6 polynomial, about 1 ulp), with the
// power of two built in the exponent bits so that the loop vectorises without a vector math library.
inline float exp_neg(float x) {
  const float t = x * 1.44269504088896341f + 12582912.0f;  // 1.5 * 2^23: rounds x log2(e) to an integer n
  const float n = t - 12582912.0f;
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int32_t ti;
  std::memcpy(&ti, &t, 4);
  const int32_t e = (ti - 0x4B400000 + 127) << 23;  // low mantissa bits of t hold n
  float s;
  std::memcpy(&s, &e, 4);
  return p * s;
}
inline double exp_neg(double x) { return std::exp(x); }

// Branch-free min/max/clamp on values (std::min returns a reference, which can stop gcc's if-conversion).
template <typename T>
inline T vmin(T a, T b) { return b < a ? b : a; }
template <typename T>
inline T vmax(T a, T b) { return a < b ? b : a; }
template <typename T>
inline T clampv(T v, T lo, T hi) { return vmin(vmax(v, lo), hi); }

// Per-camera constants of the pinhole projection (projection.py, _ewa).
template <typename T>
struct Cam {
  T R[9], t[3], fx, fy, cx, cy, lxp, lxn, lyp, lyn;
  Cam(const T* V, const T* Kc, int W, int H) {
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 3; ++j) R[3 * i + j] = V[4 * i + j];
      t[i] = V[4 * i + 3];
    }
    fx = Kc[0], fy = Kc[4], cx = Kc[2], cy = Kc[5];
    const T tfx = T(0.5 * W) / fx, tfy = T(0.5 * H) / fy;
    lxp = (T(W) - cx) / fx + T(0.3) * tfx;
    lxn = cx / fx + T(0.3) * tfx;
    lyp = (T(H) - cy) / fy + T(0.3) * tfy;
    lyn = cy / fy + T(0.3) * tfy;
  }
};

// Everything the projection of one (camera, Gaussian) computes, kept for its backward.
template <typename T>
struct Ewa {
  T q[4], qn, R[9], M[9], W[9], x, y, z, zs, rz, tx, ty, ux, uy, j00, j02, j11, j12, r0[3], r1[3], a, b, c, det,
      inv_det, mx, my;
  bool in_depth, inside_x, inside_y;
};

template <typename T>
inline void ewa(const Cam<T>& cam, const T* mean, const T* quat, const T* scale, T eps2d, T near_plane,
                T far_plane, Ewa<T>& e) {
  e.qn = std::max(std::sqrt(quat[0] * quat[0] + quat[1] * quat[1] + quat[2] * quat[2] + quat[3] * quat[3]),
                  T(1e-12));
  for (int i = 0; i < 4; ++i) e.q[i] = quat[i] / e.qn;
  const T w = e.q[0], x = e.q[1], y = e.q[2], z = e.q[3];
  T* R = e.R;
  R[0] = 1 - 2 * (y * y + z * z), R[1] = 2 * (x * y - w * z), R[2] = 2 * (x * z + w * y);
  R[3] = 2 * (x * y + w * z), R[4] = 1 - 2 * (x * x + z * z), R[5] = 2 * (y * z - w * x);
  R[6] = 2 * (x * z - w * y), R[7] = 2 * (y * z + w * x), R[8] = 1 - 2 * (x * x + y * y);
  for (int i = 0; i < 3; ++i)
    for (int k = 0; k < 3; ++k) e.M[3 * i + k] = R[3 * i + k] * scale[k];
  for (int i = 0; i < 3; ++i)
    for (int k = 0; k < 3; ++k)
      e.W[3 * i + k] = cam.R[3 * i] * e.M[k] + cam.R[3 * i + 1] * e.M[3 + k] + cam.R[3 * i + 2] * e.M[6 + k];
  T p[3];
  for (int i = 0; i < 3; ++i)
    p[i] = cam.R[3 * i] * mean[0] + cam.R[3 * i + 1] * mean[1] + cam.R[3 * i + 2] * mean[2] + cam.t[i];
  e.x = p[0], e.y = p[1], e.z = p[2];
  e.in_depth = e.z >= near_plane && e.z <= far_plane;
  e.zs = e.in_depth ? e.z : T(1);
  e.rz = T(1) / e.zs;
  e.mx = cam.fx * e.x * e.rz + cam.cx;
  e.my = cam.fy * e.y * e.rz + cam.cy;
  e.ux = e.x * e.rz, e.uy = e.y * e.rz;
  e.tx = e.zs * std::min(std::max(e.ux, -cam.lxn), cam.lxp);
  e.ty = e.zs * std::min(std::max(e.uy, -cam.lyn), cam.lyp);
  e.inside_x = e.ux >= -cam.lxn && e.ux <= cam.lxp;
  e.inside_y = e.uy >= -cam.lyn && e.uy <= cam.lyp;
  e.j00 = cam.fx * e.rz, e.j11 = cam.fy * e.rz;
  e.j02 = -cam.fx * e.tx * e.rz * e.rz, e.j12 = -cam.fy * e.ty * e.rz * e.rz;
  for (int k = 0; k < 3; ++k) {
    e.r0[k] = e.j00 * e.W[k] + e.j02 * e.W[6 + k];
    e.r1[k] = e.j11 * e.W[3 + k] + e.j12 * e.W[6 + k];
  }
  e.a = e.r0[0] * e.r0[0] + e.r0[1] * e.r0[1] + e.r0[2] * e.r0[2] + eps2d;
  e.b = e.r0[0] * e.r1[0] + e.r0[1] * e.r1[1] + e.r0[2] * e.r1[2];
  e.c = e.r1[0] * e.r1[0] + e.r1[1] * e.r1[1] + e.r1[2] * e.r1[2] + eps2d;
  e.det = e.a * e.c - e.b * e.b;
  e.inv_det = T(1) / (e.det > 0 ? e.det : T(1));
}

}  // namespace

template <typename T>
void project_forward(int C, int N, const T* means, const T* quats, const T* scales, const T* opacities,
                     const T* viewmats, const T* Ks, int W, int H, T eps2d, T near_plane, T far_plane,
                     T* means2d, T* conics, T* depths, int32_t* radii, int nthreads) {
  for (int c = 0; c < C; ++c) {
    const Cam<T> cam(viewmats + 16 * c, Ks + 9 * c, W, H);
#pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int n = 0; n < N; ++n) {
      Ewa<T> e;
      ewa(cam, means + 3 * n, quats + 4 * n, scales + 3 * n, eps2d, near_plane, far_plane, e);
      const int64_t i = int64_t(c) * N + n;
      means2d[2 * i] = e.mx, means2d[2 * i + 1] = e.my;
      conics[3 * i] = e.c * e.inv_det, conics[3 * i + 1] = -e.b * e.inv_det, conics[3 * i + 2] = e.a * e.inv_det;
      depths[i] = e.z;
      // Opacity-aware extent min(3.33, sqrt(2 ln(255 opacity))) sigmas (projection.py).
      const T op = opacities[n];
      T extent = std::sqrt(T(2) * std::log(std::max(op, K<T>::alpha_threshold) / K<T>::alpha_threshold));
      extent = std::min(extent, K<T>::max_extent);
      const T rx = std::ceil(extent * std::sqrt(std::max(e.a, T(0))));
      const T ry = std::ceil(extent * std::sqrt(std::max(e.c, T(0))));
      bool valid = e.in_depth && e.det > 0 && op >= K<T>::alpha_threshold;
      valid = valid && e.mx + rx > 0 && e.mx - rx < T(W) && e.my + ry > 0 && e.my - ry < T(H);
      valid = valid && (rx > 0 || ry > 0) && std::isfinite(rx) && std::isfinite(ry);
      radii[2 * i] = valid ? int32_t(rx) : 0;
      radii[2 * i + 1] = valid ? int32_t(ry) : 0;
    }
  }
}

template <typename T>
void project_backward(int C, int N, const T* means, const T* quats, const T* scales, const T* viewmats,
                      const T* Ks, int W, int H, T eps2d, T near_plane, T far_plane, const T* g_means2d,
                      const T* g_conics, const T* g_depths, T* g_means, T* g_quats, T* g_scales, T* g_viewmats,
                      int nthreads) {
  if (C == 0 || N == 0) {
    std::fill(g_means, g_means + 3 * int64_t(N), T(0));
    std::fill(g_quats, g_quats + 4 * int64_t(N), T(0));
    std::fill(g_scales, g_scales + 3 * int64_t(N), T(0));
    std::fill(g_viewmats, g_viewmats + 16 * int64_t(C), T(0));
    return;
  }
  std::vector<Cam<T>> cams;
  cams.reserve(C);
  for (int c = 0; c < C; ++c) cams.emplace_back(viewmats + 16 * c, Ks + 9 * c, W, H);
  const int nt = std::max(1, nthreads);
  std::vector<double> gview(size_t(nt) * C * 12, 0.0);  // per-thread dL/d[R_v | t_v]
#pragma omp parallel num_threads(nt)
  {
    double* gv = gview.data() + size_t(omp_get_thread_num()) * C * 12;
#pragma omp for schedule(static)
    for (int n = 0; n < N; ++n) {
      T gm[3] = {0, 0, 0}, gM[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};
      Ewa<T> e;
      for (int c = 0; c < C; ++c) {
        const Cam<T>& cam = cams[c];
        ewa(cam, means + 3 * n, quats + 4 * n, scales + 3 * n, eps2d, near_plane, far_plane, e);
        const int64_t i = int64_t(c) * N + n;
        const T gmx = g_means2d[2 * i], gmy = g_means2d[2 * i + 1];
        const T g0 = g_conics[3 * i], g1 = g_conics[3 * i + 1], g2 = g_conics[3 * i + 2];
        const T a = e.a, b = e.b, cc = e.c;
        const T id2 = (a * cc - b * b > 0) ? e.inv_det * e.inv_det : T(0);
        const T ga = (-cc * cc * g0 + b * cc * g1 - b * b * g2) * id2;
        const T gb = (2 * b * cc * g0 - (a * cc + b * b) * g1 + 2 * a * b * g2) * id2;
        const T gc = (-b * b * g0 + a * b * g1 - a * a * g2) * id2;
        T gr0[3], gr1[3];
        for (int k = 0; k < 3; ++k) {
          gr0[k] = 2 * ga * e.r0[k] + gb * e.r1[k];
          gr1[k] = 2 * gc * e.r1[k] + gb * e.r0[k];
        }
        T gj00 = 0, gj02 = 0, gj11 = 0, gj12 = 0;
        for (int k = 0; k < 3; ++k) {
          gj00 += gr0[k] * e.W[k], gj02 += gr0[k] * e.W[6 + k];
          gj11 += gr1[k] * e.W[3 + k], gj12 += gr1[k] * e.W[6 + k];
        }
        T gW[9];
        for (int k = 0; k < 3; ++k) {
          gW[k] = e.j00 * gr0[k];
          gW[3 + k] = e.j11 * gr1[k];
          gW[6 + k] = e.j02 * gr0[k] + e.j12 * gr1[k];
        }
        const T fx = cam.fx, fy = cam.fy, rz = e.rz, rz2 = rz * rz, rz3 = rz2 * rz;
        const T ix = e.inside_x ? T(1) : T(0), iy = e.inside_y ? T(1) : T(0);
        T gp[3];
        gp[0] = fx * rz * gmx - fx * rz2 * gj02 * ix;
        gp[1] = fy * rz * gmy - fy * rz2 * gj12 * iy;
        const T gzs = -fx * e.x * rz2 * gmx - fy * e.y * rz2 * gmy - fx * rz2 * gj00 - fy * rz2 * gj11 +
                      2 * fx * e.tx * rz3 * gj02 + 2 * fy * e.ty * rz3 * gj12 - fx * e.tx * rz3 * gj02 * (1 - ix) -
                      fy * e.ty * rz3 * gj12 * (1 - iy);
        gp[2] = gzs * (e.in_depth ? T(1) : T(0)) + g_depths[i];
        // p = R_v mu + t_v, W = R_v M.
        double* g = gv + 12 * c;
        for (int r = 0; r < 3; ++r) {
          for (int j = 0; j < 3; ++j) {
            gm[j] += cam.R[3 * r + j] * gp[r];
            for (int k = 0; k < 3; ++k) gM[3 * j + k] += cam.R[3 * r + j] * gW[3 * r + k];
            const T* Mj = e.M + 3 * j;
            g[4 * r + j] += double(gp[r] * means[3 * n + j] + gW[3 * r] * Mj[0] + gW[3 * r + 1] * Mj[1] +
                                   gW[3 * r + 2] * Mj[2]);
          }
          g[4 * r + 3] += double(gp[r]);
        }
      }
      // M = R diag(s); R from the normalised quaternion.
      for (int k = 0; k < 3; ++k) {
        g_means[3 * n + k] = gm[k];
        g_scales[3 * n + k] = gM[k] * e.R[k] + gM[3 + k] * e.R[3 + k] + gM[6 + k] * e.R[6 + k];
      }
      T G[9];
      for (int i = 0; i < 3; ++i)
        for (int k = 0; k < 3; ++k) G[3 * i + k] = gM[3 * i + k] * scales[3 * n + k];
      const T w = e.q[0], x = e.q[1], y = e.q[2], z = e.q[3];
      T gq[4];
      gq[0] = 2 * (-z * G[1] + y * G[2] + z * G[3] - x * G[5] - y * G[6] + x * G[7]);
      gq[1] = 2 * (y * G[1] + z * G[2] + y * G[3] - 2 * x * G[4] - w * G[5] + z * G[6] + w * G[7] - 2 * x * G[8]);
      gq[2] = 2 * (-2 * y * G[0] + x * G[1] + w * G[2] + x * G[3] + z * G[5] - w * G[6] + z * G[7] - 2 * y * G[8]);
      gq[3] = 2 * (-2 * z * G[0] - w * G[1] + x * G[2] + w * G[3] - 2 * z * G[4] + y * G[5] + x * G[6] + y * G[7]);
      const T dot = e.q[0] * gq[0] + e.q[1] * gq[1] + e.q[2] * gq[2] + e.q[3] * gq[3];
      for (int k = 0; k < 4; ++k) g_quats[4 * n + k] = (gq[k] - e.q[k] * dot) / e.qn;
    }
  }
  for (int c = 0; c < C; ++c) {
    for (int k = 0; k < 16; ++k) g_viewmats[16 * c + k] = 0;
    for (int k = 0; k < 12; ++k) {
      double s = 0;
      for (int t = 0; t < nt; ++t) s += gview[(size_t(t) * C + c) * 12 + k];
      g_viewmats[16 * c + k] = T(s);
    }
  }
}

namespace {

// Stable ascending order of `ids` by depth. Float: LSD radix sort on order-preserving key bits (4 passes of
// 8 bits); double: std::stable_sort.
inline void sort_by_depth(std::vector<int32_t>& ids, const float* depth, std::vector<int32_t>& tmp) {
  const size_t n = ids.size();
  std::vector<uint32_t> key(n), key_tmp(n);
  for (size_t i = 0; i < n; ++i) {
    uint32_t u;
    std::memcpy(&u, depth + ids[i], 4);
    key[i] = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
  }
  tmp.resize(n);
  for (int shift = 0; shift < 32; shift += 8) {
    size_t count[257] = {0};
    for (size_t i = 0; i < n; ++i) ++count[((key[i] >> shift) & 0xFF) + 1];
    if (count[((key[0] >> shift) & 0xFF) + 1] == n) continue;  // all equal in this digit
    for (int b = 0; b < 256; ++b) count[b + 1] += count[b];
    for (size_t i = 0; i < n; ++i) {
      const size_t d = count[(key[i] >> shift) & 0xFF]++;
      tmp[d] = ids[i];
      key_tmp[d] = key[i];
    }
    ids.swap(tmp);
    key.swap(key_tmp);
  }
}
inline void sort_by_depth(std::vector<int32_t>& ids, const double* depth, std::vector<int32_t>&) {
  std::stable_sort(ids.begin(), ids.end(), [depth](int32_t i, int32_t j) { return depth[i] < depth[j]; });
}

// Whether some pixel centre of tile (tx, ty) has power <= log(255 opacity), conservatively (tiles.py).
template <typename T>
inline bool ellipse_hits_tile(T mx, T my, T a, T b, T c, T limit, int tx, int ty, int ts, int W, int H) {
  const T dx0 = T(tx * ts) + T(0.5) - mx, dy0 = T(ty * ts) + T(0.5) - my;
  const T dx1 = T(std::min(tx * ts + ts, W)) - T(0.5) - mx, dy1 = T(std::min(ty * ts + ts, H)) - T(0.5) - my;
  if (dx0 <= 0 && dx1 >= 0 && dy0 <= 0 && dy1 >= 0) return true;
  auto power = [&](T dx, T dy) { return T(0.5) * (a * dx * dx + c * dy * dy) + b * dx * dy; };
  T best = power(dx0, clampv(-b * dx0 / c, dy0, dy1));
  best = std::min(best, power(dx1, clampv(-b * dx1 / c, dy0, dy1)));
  best = std::min(best, power(clampv(-b * dy0 / a, dx0, dx1), dy0));
  best = std::min(best, power(clampv(-b * dy1 / a, dx0, dx1), dy1));
  return best <= limit * T(1.001) + T(1e-3);
}

}  // namespace

template <typename T>
void bin_gaussians(int C, int N, const T* means2d, const T* conics, const T* opacities, const int32_t* radii,
                   const T* depths, int W, int H, int ts, std::vector<int32_t>& tile_offsets,
                   std::vector<int32_t>& flat_ids, int nthreads) {
  const int tx_n = (W + ts - 1) / ts, ty_n = (H + ts - 1) / ts, n_tiles = tx_n * ty_n;
  std::vector<std::vector<int32_t>> counts(C), ids(C);
  std::vector<T> limit(N);
  for (int n = 0; n < N; ++n) limit[n] = std::log(opacities[n] * T(255.0));
#pragma omp parallel for num_threads(std::max(1, std::min(nthreads, C))) schedule(dynamic, 1)
  for (int c = 0; c < C; ++c) {
    const int64_t base = int64_t(c) * N;
    std::vector<int32_t> order, tmp;
    order.reserve(N);
    for (int n = 0; n < N; ++n)
      if (radii[2 * (base + n)] > 0) order.push_back(n);
    if (!order.empty()) sort_by_depth(order, depths + base, tmp);
    std::vector<int32_t>& cnt = counts[c];
    cnt.assign(n_tiles + 1, 0);
    std::vector<int32_t> isect_tile, isect_id;
    isect_tile.reserve(order.size() * 4);
    isect_id.reserve(order.size() * 4);
    for (const int32_t n : order) {
      const int64_t i = base + n;
      const T mx = means2d[2 * i], my = means2d[2 * i + 1];
      const T rx = T(radii[2 * i]), ry = T(radii[2 * i + 1]);
      const int x0 = int(clampv(std::floor((mx - rx) / T(ts)), T(0), T(tx_n)));
      const int x1 = int(clampv(std::ceil((mx + rx) / T(ts)), T(0), T(tx_n)));
      const int y0 = int(clampv(std::floor((my - ry) / T(ts)), T(0), T(ty_n)));
      const int y1 = int(clampv(std::ceil((my + ry) / T(ts)), T(0), T(ty_n)));
      const T a = conics[3 * i], b = conics[3 * i + 1], cc = conics[3 * i + 2];
      for (int ty = y0; ty < y1; ++ty)
        for (int tx = x0; tx < x1; ++tx) {
          if (!ellipse_hits_tile(mx, my, a, b, cc, limit[n], tx, ty, ts, W, H)) continue;
          const int t = ty * tx_n + tx;
          isect_tile.push_back(t);
          isect_id.push_back(int32_t(i));
          ++cnt[t + 1];
        }
    }
    for (int t = 0; t < n_tiles; ++t) cnt[t + 1] += cnt[t];
    std::vector<int32_t> pos(cnt.begin(), cnt.end() - 1);
    ids[c].resize(isect_id.size());
    for (size_t k = 0; k < isect_id.size(); ++k) ids[c][pos[isect_tile[k]]++] = isect_id[k];
  }
  tile_offsets.assign(size_t(C) * n_tiles + 1, 0);
  int64_t total = 0;
  for (int c = 0; c < C; ++c) {
    for (int t = 0; t < n_tiles; ++t) tile_offsets[size_t(c) * n_tiles + t] = int32_t(total + counts[c][t]);
    total += int64_t(ids[c].size());
  }
  tile_offsets[size_t(C) * n_tiles] = int32_t(total);
  flat_ids.resize(size_t(total));
  int64_t off = 0;
  for (int c = 0; c < C; ++c) {
    std::copy(ids[c].begin(), ids[c].end(), flat_ids.begin() + off);
    off += int64_t(ids[c].size());
  }
}

namespace {

constexpr int kMaxCh = 4;
constexpr int kRec = 12;  // record: mx, my, a, b, c, log opacity, 4 channels, y and x half-extents
constexpr int kGrad = 10;  // gradient: mx, my, a, b, c, log opacity, 4 channels
constexpr int kCheckEvery = 16;  // Gaussians between checks whether every pixel of a tile has terminated

// One record per (camera, Gaussian). The y half-extent bounds the rows where alpha can exceed 1/255:
// max |dy| over the ellipse power <= log(255 opacity) is sqrt(2 log(255 opacity) Sigma_yy) with
// Sigma_yy = a / (a c - b^2) (the conic's inverse), and the same in x with Sigma_xx = c / (a c - b^2); one pixel
// of margin keeps rounding on the safe side.
template <typename T>
std::vector<T> pack_records(int C, int N, int ch, const T* means2d, const T* conics, const T* opacities,
                            const T* colors, int nthreads) {
  constexpr int R = kRec;
  std::vector<T> rec(size_t(C) * N * R);
  const int64_t CN = int64_t(C) * N;
#pragma omp parallel for num_threads(nthreads) schedule(static)
  for (int64_t i = 0; i < CN; ++i) {
    T* r = rec.data() + i * R;
    r[0] = means2d[2 * i], r[1] = means2d[2 * i + 1];
    r[2] = conics[3 * i], r[3] = conics[3 * i + 1], r[4] = conics[3 * i + 2];
    r[5] = std::log(std::max(opacities[i % N], T(1e-30)));
    for (int k = 0; k < kMaxCh; ++k) r[6 + k] = k < ch ? colors[i * ch + k] : T(0);
    const T level = r[5] + T(5.541263545158426);  // log(255 opacity)
    const T det = r[2] * r[4] - r[3] * r[3];
    const T ey2 = det > 0 && level > 0 ? T(2) * level * r[2] / det : T(-1);
    const T ex2 = det > 0 && level > 0 ? T(2) * level * r[4] / det : T(-1);
    const bool ok = ey2 >= 0 && ex2 >= 0 && std::isfinite(ey2) && std::isfinite(ex2);
    r[10] = ok ? std::sqrt(ey2) + T(1) : T(-1);  // -1: no pixel
    r[11] = ok ? std::sqrt(ex2) + T(1) : T(-1);
  }
  return rec;
}

// Pixel range [p0, p1) of the tile rows that Gaussian record r can reach (whole rows of ts pixels).
template <typename T>
inline void row_range(const T* r, int ty, int ts, int& p0, int& p1) {
  const T ylo = r[1] - r[10] - T(ty * ts), yhi = r[1] + r[10] - T(ty * ts);  // row k has centre k + 0.5
  const int k0 = int(clampv(std::floor(ylo), T(0), T(ts))), k1 = int(clampv(std::ceil(yhi), T(0), T(ts)));
  p0 = k0 * ts;
  p1 = r[10] < 0 ? p0 : std::max(k0, k1) * ts;
}

template <typename T>
inline bool tile_finished(const T* tr, int P) {
  T m = 0;
#pragma omp simd reduction(max : m)
  for (int p = 0; p < P; ++p) m = vmax(m, tr[p]);
  return !(m > 0);
}

// ---- 8-lane fast path (float, tile width a multiple of 8): GCC/Clang vector extensions, one row segment of 8
// pixels per vector. Within a row dy is a scalar, so log-alpha is two FMAs per pixel, and the backward
// accumulates the moments sum(g), sum(g dx), sum(g dx^2), ... of g = dL/dlog(alpha), reduced once per
// (Gaussian, tile). The maths is that of the generic loops below.
#if defined(__GNUC__) || defined(__clang__)
#define SHARPSPLAT_VEC8 1
typedef float f8 __attribute__((vector_size(32)));
typedef int32_t i8 __attribute__((vector_size(32)));

inline f8 load8(const float* p) {
  f8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store8(float* p, f8 v) { std::memcpy(p, &v, sizeof v); }
inline f8 splat8(float x) { return f8{x, x, x, x, x, x, x, x}; }
inline f8 min8(f8 a, f8 b) { return b < a ? b : a; }
inline f8 max8(f8 a, f8 b) { return a < b ? b : a; }
inline f8 exp_neg8(f8 x) {  // exp_neg on 8 lanes
  const f8 t = x * 1.44269504088896341f + 12582912.0f;
  const f8 n = t - 12582912.0f;
  f8 r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  f8 p = splat8(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const i8 e = ((i8)t - 0x4B400000 + 127) << 23;
  return p * (f8)e;
}
// 1 / x: the hardware estimate refined by one Newton step (about 23 bits) where AVX has it, else a division.
inline f8 recip8(f8 x) {
#if defined(__AVX__) && !defined(__clang__)
  const f8 r = __builtin_ia32_rcpps256(x);
  return r * (2.0f - x * r);
#else
  return 1.0f / x;
#endif
}
inline float hsum8(f8 v) {
  return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}

// Segment range [v0, v1) of 8-pixel vectors in a row and row range [k0, k1) that record r can reach.
inline bool reach8(const float* r, int tx, int ty, int ts, int& k0, int& k1, int& v0, int& v1) {
  if (r[10] < 0) return false;
  const float ylo = r[1] - r[10] - float(ty * ts), yhi = r[1] + r[10] - float(ty * ts);
  const float xlo = r[0] - r[11] - float(tx * ts), xhi = r[0] + r[11] - float(tx * ts);
  k0 = int(clampv(std::floor(ylo), 0.0f, float(ts))), k1 = int(clampv(std::ceil(yhi), 0.0f, float(ts)));
  v0 = int(clampv(std::floor(xlo * 0.125f), 0.0f, float(ts / 8)));
  v1 = int(clampv(std::ceil(xhi * 0.125f), 0.0f, float(ts / 8)));
  return k0 < k1 && v0 < v1;
}

// Which rows of the tile still have a pixel that has not terminated; false when none has. Skipping a row whose
// every transmittance is 0 changes nothing (no weight, no gradient), so forward and backward may do it at will.
inline bool live_rows8(const float* tr, int ts, bool* live) {
  bool any = false;
  for (int k = 0; k < ts; ++k) {
    f8 m = load8(tr + k * ts);
    for (int v = 1; v < ts / 8; ++v) m = max8(m, load8(tr + k * ts + 8 * v));
    live[k] = hsum8(m) > 0.0f;  // lanes are >= 0: a positive sum means some lane is alive
    any = any || live[k];
  }
  return any;
}

template <int CH>
void fwd_tile8(const float* rec, const int32_t* ids, int32_t begin, int32_t end, int tx, int ty, int ts, float* tr,
               float* const* acc, float* ws) {
  float pxrow[32];
  for (int i = 0; i < ts; ++i) pxrow[i] = float(tx * ts + i) + 0.5f;
  bool live[32];
  if (!live_rows8(tr, ts, live)) return;
  for (int32_t j = begin; j < end; ++j) {
    const float* r = rec + int64_t(ids[j]) * kRec;
    if (j + 2 < end) __builtin_prefetch(rec + int64_t(ids[j + 2]) * kRec);
    int k0, k1, v0, v1;
    if (reach8(r, tx, ty, ts, k0, k1, v0, v1)) {
      const float mx = r[0], my = r[1], ha = 0.5f * r[2], cb = r[3], hc = 0.5f * r[4], lo = r[5];
      for (int k = k0; k < k1; ++k) {
        if (!live[k]) continue;
        const float dy = my - (float(ty * ts + k) + 0.5f);
        const float bq = cb * dy, cq = hc * dy * dy - lo;  // log alpha = -((a/2 dx + b dy) dx + c/2 dy^2 - lo)
        for (int v = v0; v < v1; ++v) {
          const int p = k * ts + 8 * v;
          const f8 dx = mx - load8(pxrow + 8 * v);
          const f8 la = max8(min8(-((ha * dx + bq) * dx + cq), splat8(0.0f)), splat8(-20.0f));
          f8 al = min8(exp_neg8(la), splat8(0.999f));
          al = al > (1.0f / 255.0f) ? al : splat8(0.0f);
          const f8 t = load8(tr + p), ta = t - t * al;
          const i8 alive = ta > 1e-4f;
          const f8 w = alive ? al * t : splat8(0.0f);
          for (int c = 0; c < CH; ++c) store8(acc[c] + p, load8(acc[c] + p) + w * r[6 + c]);
          store8(ws + p, load8(ws + p) + w);
          store8(tr + p, alive ? ta : splat8(0.0f));
        }
      }
    }
    if ((j - begin) % kCheckEvery == kCheckEvery - 1 && !live_rows8(tr, ts, live)) break;
  }
}

template <int CH>
void bwd_tile8(const float* rec, const int32_t* ids, int32_t begin, int32_t end, int tx, int ty, int ts, float* tr,
               float* const* g, const float* ga, const float* tot, float* pref, float* igrad) {
  float pxrow[32];
  for (int i = 0; i < ts; ++i) pxrow[i] = float(tx * ts + i) + 0.5f;
  const f8 zero = splat8(0.0f);
  bool live[32];
  if (!live_rows8(tr, ts, live)) {
    std::fill(igrad + int64_t(begin) * kGrad, igrad + int64_t(end) * kGrad, 0.0f);
    return;
  }
  for (int32_t j = begin; j < end; ++j) {
    const float* r = rec + int64_t(ids[j]) * kRec;
    if (j + 2 < end) __builtin_prefetch(rec + int64_t(ids[j + 2]) * kRec);
    float* gr = igrad + int64_t(j) * kGrad;
    std::fill(gr, gr + kGrad, 0.0f);
    int k0, k1, v0, v1;
    if (reach8(r, tx, ty, ts, k0, k1, v0, v1)) {
      const float mx = r[0], my = r[1], ca = r[2], cb = r[3], cc = r[4], lo = r[5];
      const float ha = 0.5f * ca, hc = 0.5f * cc;
      f8 s0 = zero, sx = zero, sy = zero, sxx = zero, sxy = zero, syy = zero, sc[4] = {zero, zero, zero, zero};
      for (int k = k0; k < k1; ++k) {
        if (!live[k]) continue;
        const float dy = my - (float(ty * ts + k) + 0.5f);
        const float bq = cb * dy, cq = hc * dy * dy - lo;
        for (int v = v0; v < v1; ++v) {
          const int p = k * ts + 8 * v;
          const f8 dx = mx - load8(pxrow + 8 * v);
          const f8 la = max8(min8(-((ha * dx + bq) * dx + cq), zero), splat8(-20.0f));
          const f8 ex = exp_neg8(la);
          f8 al = min8(ex, splat8(0.999f));
          al = al > (1.0f / 255.0f) ? al : zero;
          const f8 t = load8(tr + p), ta = t - t * al;
          const i8 alive = ta > 1e-4f;
          const f8 w = alive ? al * t : zero;
          f8 e = load8(ga + p);
          for (int c = 0; c < CH; ++c) e += r[6 + c] * load8(g[c] + p);
          const f8 pr = load8(pref + p) + e * w;
          store8(pref + p, pr);
          const f8 behind = load8(tot + p) - pr;  // S_i: what lies behind Gaussian i
          f8 gla = (t * e - behind * recip8(1.0f - al)) * al;
          gla = ex < 0.999f ? gla : zero;  // none through the 0.999 clamp (gsplat)
          gla = alive ? gla : zero;
          for (int c = 0; c < CH; ++c) sc[c] += w * load8(g[c] + p);
          const f8 gdx = gla * dx;
          s0 += gla, sx += gdx, sxx += gdx * dx, sy += gla * dy, sxy += gdx * dy, syy += gla * (dy * dy);
          store8(tr + p, alive ? ta : zero);
        }
      }
      // power = a/2 dx^2 + b dx dy + c/2 dy^2 with d = mean - pixel; dL/dpower = -g.
      const float Sx = hsum8(sx), Sy = hsum8(sy);
      gr[0] = -(ca * Sx + cb * Sy);
      gr[1] = -(cb * Sx + cc * Sy);
      gr[2] = -0.5f * hsum8(sxx);
      gr[3] = -hsum8(sxy);
      gr[4] = -0.5f * hsum8(syy);
      gr[5] = hsum8(s0);
      for (int c = 0; c < CH; ++c) gr[6 + c] = hsum8(sc[c]);
    }
    if ((j - begin) % kCheckEvery == kCheckEvery - 1 && !live_rows8(tr, ts, live)) {
      std::fill(igrad + int64_t(j + 1) * kGrad, igrad + int64_t(end) * kGrad, 0.0f);  // terminated: no gradient
      break;
    }
  }
}
#endif  // SHARPSPLAT_VEC8

// Tile-local pixel state, one array per quantity (SIMD over pixels).
template <typename T>
struct TileBuf {
  std::vector<T> px, py, tr, acc[kMaxCh], wsum, g[kMaxCh], ga, total, pref;
  explicit TileBuf(int P) : px(P), py(P), tr(P), wsum(P), ga(P), total(P), pref(P) {
    for (int k = 0; k < kMaxCh; ++k) acc[k].resize(P), g[k].resize(P);
  }
  // Pixel centres; transmittance 1 inside the image, 0 (finished) outside it.
  void init(int tx, int ty, int ts, int W, int H) {
    const int P = ts * ts;
    for (int p = 0; p < P; ++p) {
      const int x = tx * ts + p % ts, y = ty * ts + p / ts;
      px[p] = T(x) + T(0.5), py[p] = T(y) + T(0.5);
      tr[p] = (x < W && y < H) ? T(1) : T(0);
    }
  }
};

template <typename T, int CH>
void raster_fwd_impl(int C, int N, const std::vector<T>& rec, int W, int H, int ts, const int32_t* offsets,
                     const int32_t* ids, T* image, T* alpha, int nthreads) {
  constexpr int R = kRec;
  const int tx_n = (W + ts - 1) / ts, ty_n = (H + ts - 1) / ts, n_tiles = tx_n * ty_n, P = ts * ts;
  const int64_t total_tiles = int64_t(C) * n_tiles;
#pragma omp parallel num_threads(nthreads)
  {
    TileBuf<T> buf(P);
    T* __restrict px = buf.px.data();
    T* __restrict py = buf.py.data();
    T* __restrict tr = buf.tr.data();
    T* __restrict ws = buf.wsum.data();
    T* __restrict a0 = buf.acc[0].data();
    T* __restrict a1 = buf.acc[1].data();
    T* __restrict a2 = buf.acc[2].data();
    T* __restrict a3 = buf.acc[3].data();
#pragma omp for schedule(dynamic, 1)
    for (int64_t tile = 0; tile < total_tiles; ++tile) {
      const int c = int(tile / n_tiles), tl = int(tile % n_tiles), ty = tl / tx_n, tx = tl % tx_n;
      buf.init(tx, ty, ts, W, H);
      std::fill(ws, ws + P, T(0));
      for (int k = 0; k < CH; ++k) std::fill(buf.acc[k].begin(), buf.acc[k].end(), T(0));
#ifdef SHARPSPLAT_VEC8
      if constexpr (std::is_same_v<T, float>) {
        if (ts % 8 == 0) {
          float* acc[kMaxCh] = {a0, a1, a2, a3};
          fwd_tile8<CH>(rec.data(), ids, offsets[tile], offsets[tile + 1], tx, ty, ts, tr, acc, ws);
          goto write_out;
        }
      }
#endif
      for (int32_t j = offsets[tile]; j < offsets[tile + 1]; ++j) {
        const T* r = rec.data() + int64_t(ids[j]) * R;
        const T mx = r[0], my = r[1], ca = r[2], cb = r[3], cc = r[4], lo = r[5];
        const T c0 = r[6], c1 = r[7], c2 = r[8], c3 = r[9];
        int p0, p1;
        row_range(r, ty, ts, p0, p1);
#pragma omp simd
        for (int p = p0; p < p1; ++p) {
          const T dx = mx - px[p], dy = my - py[p];
          const T pw = T(0.5) * (ca * dx * dx + cc * dy * dy) + cb * dx * dy;
          const T la = clampv(lo - pw, K<T>::log_floor, T(0));
          T al = vmin(exp_neg(la), K<T>::max_alpha);
          al = al > K<T>::alpha_threshold ? al : T(0);
          const T t = tr[p], ta = t * (T(1) - al);
          const bool alive = ta > K<T>::t_min;
          const T w = alive ? al * t : T(0);
          a0[p] += w * c0;
          a1[p] += w * c1;
          a2[p] += w * c2;
          if constexpr (CH > 3) a3[p] += w * c3;
          ws[p] += w;
          tr[p] = alive ? ta : T(0);
        }
        if ((j - offsets[tile]) % kCheckEvery == kCheckEvery - 1 && tile_finished(tr, P)) break;
      }
    write_out:
      for (int p = 0; p < P; ++p) {
        const int x = tx * ts + p % ts, y = ty * ts + p / ts;
        if (x >= W || y >= H) continue;
        const int64_t pix = (int64_t(c) * H + y) * W + x;
        for (int k = 0; k < CH; ++k) image[pix * CH + k] = buf.acc[k][p];
        alpha[pix] = ws[p];
      }
    }
  }
}

template <typename T, int CH>
void raster_bwd_impl(int C, int N, const std::vector<T>& rec, int W, int H, int ts, const int32_t* offsets,
                     const int32_t* ids, const T* image, const T* alpha, const T* g_image, const T* g_alpha,
                     T* igrad, int nthreads) {
  constexpr int R = kRec;
  const int tx_n = (W + ts - 1) / ts, ty_n = (H + ts - 1) / ts, n_tiles = tx_n * ty_n, P = ts * ts;
  const int64_t total_tiles = int64_t(C) * n_tiles;
#pragma omp parallel num_threads(nthreads)
  {
    TileBuf<T> buf(P);
    T* __restrict px = buf.px.data();
    T* __restrict py = buf.py.data();
    T* __restrict tr = buf.tr.data();
    T* __restrict g0 = buf.g[0].data();
    T* __restrict g1 = buf.g[1].data();
    T* __restrict g2 = buf.g[2].data();
    T* __restrict g3 = buf.g[3].data();
    T* __restrict gal = buf.ga.data();
    T* __restrict tot = buf.total.data();
    T* __restrict pref = buf.pref.data();
#pragma omp for schedule(dynamic, 1)
    for (int64_t tile = 0; tile < total_tiles; ++tile) {
      if (offsets[tile] == offsets[tile + 1]) continue;
      const int c = int(tile / n_tiles), tl = int(tile % n_tiles), ty = tl / tx_n, tx = tl % tx_n;
      buf.init(tx, ty, ts, W, H);
      for (int p = 0; p < P; ++p) {
        const int x = tx * ts + p % ts, y = ty * ts + p / ts;
        pref[p] = 0;
        if (x >= W || y >= H) {
          for (int k = 0; k < kMaxCh; ++k) buf.g[k][p] = 0;
          gal[p] = 0, tot[p] = 0;
          continue;
        }
        const int64_t pix = (int64_t(c) * H + y) * W + x;
        T s = alpha[pix] * g_alpha[pix];
        for (int k = 0; k < kMaxCh; ++k) {
          const T gk = k < CH ? g_image[pix * CH + k] : T(0);
          buf.g[k][p] = gk;
          if (k < CH) s += image[pix * CH + k] * gk;
        }
        gal[p] = g_alpha[pix], tot[p] = s;  // sum over all Gaussians of e_i w_i
      }
#ifdef SHARPSPLAT_VEC8
      if constexpr (std::is_same_v<T, float>) {
        if (ts % 8 == 0) {
          float* g[kMaxCh] = {g0, g1, g2, g3};
          bwd_tile8<CH>(rec.data(), ids, offsets[tile], offsets[tile + 1], tx, ty, ts, tr, g, gal, tot, pref,
                        igrad);
          continue;
        }
      }
#endif
      for (int32_t j = offsets[tile]; j < offsets[tile + 1]; ++j) {
        const T* r = rec.data() + int64_t(ids[j]) * R;
        const T mx = r[0], my = r[1], ca = r[2], cb = r[3], cc = r[4], lo = r[5];
        const T c0 = r[6], c1 = r[7], c2 = r[8], c3 = r[9];
        int p0, p1;
        row_range(r, ty, ts, p0, p1);
        T s_mx = 0, s_my = 0, s_a = 0, s_b = 0, s_c = 0, s_lo = 0, s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp simd reduction(+ : s_mx, s_my, s_a, s_b, s_c, s_lo, s0, s1, s2, s3)
        for (int p = p0; p < p1; ++p) {
          const T dx = mx - px[p], dy = my - py[p];
          const T pw = T(0.5) * (ca * dx * dx + cc * dy * dy) + cb * dx * dy;
          const T la = clampv(lo - pw, K<T>::log_floor, T(0));
          const T ex = exp_neg(la);
          T al = vmin(ex, K<T>::max_alpha);
          al = al > K<T>::alpha_threshold ? al : T(0);
          const T t = tr[p], ta = t * (T(1) - al);
          const bool alive = ta > K<T>::t_min;
          const T w = alive ? al * t : T(0);
          T e = c0 * g0[p] + c1 * g1[p] + c2 * g2[p] + gal[p];
          if constexpr (CH > 3) e += c3 * g3[p];
          const T pr = pref[p] + e * w;
          pref[p] = pr;
          const T behind = tot[p] - pr;  // S_i: what lies behind Gaussian i
          T gla = (t * e - behind / (T(1) - al)) * al;  // dL/dalpha * dalpha/dlog(alpha)
          gla = ex < K<T>::max_alpha ? gla : T(0);  // none through the 0.999 clamp (gsplat)
          gla = alive ? gla : T(0);  // two selects: `&&` is control flow, which stops the vectoriser
          s0 += w * g0[p];
          s1 += w * g1[p];
          s2 += w * g2[p];
          if constexpr (CH > 3) s3 += w * g3[p];
          s_mx -= gla * (ca * dx + cb * dy);
          s_my -= gla * (cb * dx + cc * dy);
          s_a -= gla * T(0.5) * dx * dx;
          s_b -= gla * dx * dy;
          s_c -= gla * T(0.5) * dy * dy;
          s_lo += gla;
          tr[p] = alive ? ta : T(0);
        }
        T* gr = igrad + int64_t(j) * kGrad;
        gr[0] = s_mx, gr[1] = s_my, gr[2] = s_a, gr[3] = s_b, gr[4] = s_c, gr[5] = s_lo;
        gr[6] = s0, gr[7] = s1, gr[8] = s2, gr[9] = s3;
        if ((j - offsets[tile]) % kCheckEvery == kCheckEvery - 1 && tile_finished(tr, P)) {
          std::fill(igrad + int64_t(j + 1) * kGrad, igrad + int64_t(offsets[tile + 1]) * kGrad, T(0));
          break;
        }
      }
    }
  }
}

}  // namespace

template <typename T>
void rasterize_forward(int C, int N, int ch, const T* means2d, const T* conics, const T* opacities,
                       const T* colors, int W, int H, int ts, const int32_t* tile_offsets, const int32_t* flat_ids,
                       T* image, T* alpha, int nthreads) {
  const std::vector<T> rec = pack_records(C, N, ch, means2d, conics, opacities, colors, nthreads);
  if (ch == 3)
    raster_fwd_impl<T, 3>(C, N, rec, W, H, ts, tile_offsets, flat_ids, image, alpha, nthreads);
  else
    raster_fwd_impl<T, 4>(C, N, rec, W, H, ts, tile_offsets, flat_ids, image, alpha, nthreads);
}

template <typename T>
void rasterize_backward(int C, int N, int ch, const T* means2d, const T* conics, const T* opacities,
                        const T* colors, int W, int H, int ts, const int32_t* tile_offsets, const int32_t* flat_ids,
                        const T* image, const T* alpha, const T* g_image, const T* g_alpha, T* g_means2d,
                        T* g_conics, T* g_opacities, T* g_colors, int nthreads) {
  constexpr int R = kGrad;
  const std::vector<T> rec = pack_records(C, N, ch, means2d, conics, opacities, colors, nthreads);
  // One gradient slot per (tile, Gaussian) intersection, each written by the one thread that owns its tile;
  // then summed per Gaussian in intersection order. The result does not depend on the scheduling or the
  // number of threads (bit for bit), unlike shared per-thread buffers.
  const int32_t M = tile_offsets[int64_t(C) * ((W + ts - 1) / ts) * ((H + ts - 1) / ts)];
  std::unique_ptr<T[]> igrad(new T[size_t(M) * R]);
  if (ch == 3)
    raster_bwd_impl<T, 3>(C, N, rec, W, H, ts, tile_offsets, flat_ids, image, alpha, g_image, g_alpha, igrad.get(),
                          nthreads);
  else
    raster_bwd_impl<T, 4>(C, N, rec, W, H, ts, tile_offsets, flat_ids, image, alpha, g_image, g_alpha, igrad.get(),
                          nthreads);
  const int64_t CN = int64_t(C) * N;
  std::vector<T> grads(size_t(CN) * R, T(0));
#pragma omp parallel num_threads(nthreads)
  {  // each thread owns a range of Gaussians and adds their intersections in order
    const int nt = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t lo = CN * t / nt, hi = CN * (t + 1) / nt;
    for (int32_t j = 0; j < M; ++j) {
      const int64_t id = flat_ids[j];
      if (id < lo || id >= hi) continue;
      T* dst = grads.data() + id * R;
      const T* src = igrad.get() + int64_t(j) * R;
      for (int k = 0; k < R; ++k) dst[k] += src[k];
    }
  }
#pragma omp parallel for num_threads(nthreads) schedule(static)
  for (int64_t i = 0; i < CN; ++i) {
    const T* gr = grads.data() + i * R;
    g_means2d[2 * i] = gr[0], g_means2d[2 * i + 1] = gr[1];
    g_conics[3 * i] = gr[2], g_conics[3 * i + 1] = gr[3], g_conics[3 * i + 2] = gr[4];
    for (int k = 0; k < ch; ++k) g_colors[i * ch + k] = gr[6 + k];
  }
  // d log(max(o, 1e-30)) / d o = 1 / o (0 below the clamp), summed over cameras.
  for (int n = 0; n < N; ++n) {
    T s = 0;
    for (int c = 0; c < C; ++c) s += grads[(int64_t(c) * N + n) * R + 5];
    g_opacities[n] = opacities[n] > T(1e-30) ? s / opacities[n] : T(0);
  }
}

#define SHARPSPLAT_INSTANTIATE(T)                                                                                  \
  template void project_forward<T>(int, int, const T*, const T*, const T*, const T*, const T*, const T*, int, int, \
                                   T, T, T, T*, T*, T*, int32_t*, int);                                          \
  template void project_backward<T>(int, int, const T*, const T*, const T*, const T*, const T*, int, int, T, T, T, \
                                    const T*, const T*, const T*, T*, T*, T*, T*, int);                          \
  template void bin_gaussians<T>(int, int, const T*, const T*, const T*, const int32_t*, const T*, int, int, int,  \
                                 std::vector<int32_t>&, std::vector<int32_t>&, int);                             \
  template void rasterize_forward<T>(int, int, int, const T*, const T*, const T*, const T*, int, int, int,        \
                                     const int32_t*, const int32_t*, T*, T*, int);                               \
  template void rasterize_backward<T>(int, int, int, const T*, const T*, const T*, const T*, int, int, int,       \
                                      const int32_t*, const int32_t*, const T*, const T*, const T*, const T*, T*, \
                                      T*, T*, T*, int);

SHARPSPLAT_INSTANTIATE(float)
SHARPSPLAT_INSTANTIATE(double)

}  // namespace sharpsplat
