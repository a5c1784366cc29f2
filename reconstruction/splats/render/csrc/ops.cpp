// Torch operators (namespace sharpsplat_native) around the raw-array kernels of kernels.cpp. Only the light
// torch/library.h and per-operator ATen headers are included: this file compiles in about 4 s of CPU time where
// torch/extension.h takes about 22 s (measured on the project's machine).
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>

#include <tuple>
#include <vector>

#include "kernels.h"

namespace {

using at::Tensor;

void check(const Tensor& t, const char* name, at::ScalarType dtype, int64_t dim) {
  TORCH_CHECK(t.device().is_cpu(), "sharpsplat native: ", name, " must be a CPU tensor");
  TORCH_CHECK(t.scalar_type() == dtype, "sharpsplat native: ", name, " has dtype ", t.scalar_type(), ", expected ",
              dtype);
  TORCH_CHECK(t.is_contiguous(), "sharpsplat native: ", name, " must be contiguous");
  TORCH_CHECK(t.dim() == dim, "sharpsplat native: ", name, " must have ", dim, " dimensions, got ", t.dim());
}

int threads() { return std::max(1, at::get_num_threads()); }

template <typename T>
const T* ptr(const Tensor& t) { return t.data_ptr<T>(); }
template <typename T>
T* mptr(Tensor& t) { return t.data_ptr<T>(); }

#define DISPATCH_FLOAT(dtype, ...)                                                            \
  [&] {                                                                                       \
    if ((dtype) == at::kFloat) {                                                              \
      using scalar_t = float;                                                                 \
      return __VA_ARGS__();                                                                   \
    }                                                                                         \
    TORCH_CHECK((dtype) == at::kDouble, "sharpsplat native: float32 or float64 only, got ", dtype); \
    using scalar_t = double;                                                                  \
    return __VA_ARGS__();                                                                     \
  }()

std::tuple<Tensor, Tensor, Tensor, Tensor> project_fwd(const Tensor& means, const Tensor& quats, const Tensor& scales,
                                                       const Tensor& opacities, const Tensor& viewmats,
                                                       const Tensor& Ks, int64_t W, int64_t H, double eps2d,
                                                       double near_plane, double far_plane) {
  const auto dt = means.scalar_type();
  check(means, "means", dt, 2), check(quats, "quats", dt, 2), check(scales, "scales", dt, 2);
  check(opacities, "opacities", dt, 1), check(viewmats, "viewmats", dt, 3), check(Ks, "Ks", dt, 3);
  const int64_t C = viewmats.size(0), N = means.size(0);
  auto opt = means.options();
  Tensor means2d = at::empty({C, N, 2}, opt), conics = at::empty({C, N, 3}, opt), depths = at::empty({C, N}, opt);
  Tensor radii = at::empty({C, N, 2}, opt.dtype(at::kInt));
  DISPATCH_FLOAT(dt, [&] {
    sharpsplat::project_forward<scalar_t>(
        int(C), int(N), ptr<scalar_t>(means), ptr<scalar_t>(quats), ptr<scalar_t>(scales),
        ptr<scalar_t>(opacities), ptr<scalar_t>(viewmats), ptr<scalar_t>(Ks), int(W), int(H), scalar_t(eps2d),
        scalar_t(near_plane), scalar_t(far_plane), mptr<scalar_t>(means2d), mptr<scalar_t>(conics),
        mptr<scalar_t>(depths), radii.data_ptr<int32_t>(), threads());
  });
  return {means2d, conics, depths, radii};
}

std::tuple<Tensor, Tensor, Tensor, Tensor> project_bwd(const Tensor& means, const Tensor& quats, const Tensor& scales,
                                                       const Tensor& viewmats, const Tensor& Ks, int64_t W, int64_t H,
                                                       double eps2d, double near_plane, double far_plane,
                                                       const Tensor& g_means2d, const Tensor& g_conics,
                                                       const Tensor& g_depths) {
  const auto dt = means.scalar_type();
  check(means, "means", dt, 2), check(quats, "quats", dt, 2), check(scales, "scales", dt, 2);
  check(viewmats, "viewmats", dt, 3), check(Ks, "Ks", dt, 3);
  check(g_means2d, "g_means2d", dt, 3), check(g_conics, "g_conics", dt, 3), check(g_depths, "g_depths", dt, 2);
  const int64_t C = viewmats.size(0), N = means.size(0);
  auto opt = means.options();
  Tensor g_means = at::empty({N, 3}, opt), g_quats = at::empty({N, 4}, opt), g_scales = at::empty({N, 3}, opt);
  Tensor g_view = at::empty({C, 4, 4}, opt);
  DISPATCH_FLOAT(dt, [&] {
    sharpsplat::project_backward<scalar_t>(
        int(C), int(N), ptr<scalar_t>(means), ptr<scalar_t>(quats), ptr<scalar_t>(scales),
        ptr<scalar_t>(viewmats), ptr<scalar_t>(Ks), int(W), int(H), scalar_t(eps2d), scalar_t(near_plane),
        scalar_t(far_plane), ptr<scalar_t>(g_means2d), ptr<scalar_t>(g_conics), ptr<scalar_t>(g_depths),
        mptr<scalar_t>(g_means), mptr<scalar_t>(g_quats), mptr<scalar_t>(g_scales), mptr<scalar_t>(g_view),
        threads());
  });
  return {g_means, g_quats, g_scales, g_view};
}

Tensor to_tensor(std::vector<int32_t>& v) {
  Tensor t = at::empty({int64_t(v.size())}, at::TensorOptions().dtype(at::kInt));
  if (!v.empty()) std::copy(v.begin(), v.end(), t.data_ptr<int32_t>());
  return t;
}

std::tuple<Tensor, Tensor> bin(const Tensor& means2d, const Tensor& conics, const Tensor& opacities,
                               const Tensor& radii, const Tensor& depths, int64_t W, int64_t H, int64_t tile_size) {
  const auto dt = means2d.scalar_type();
  check(means2d, "means2d", dt, 3), check(conics, "conics", dt, 3), check(opacities, "opacities", dt, 1);
  check(radii, "radii", at::kInt, 3), check(depths, "depths", dt, 2);
  TORCH_CHECK(tile_size >= 1 && tile_size <= 32, "sharpsplat native: tile_size must be in 1..32");
  const int64_t C = means2d.size(0), N = means2d.size(1);
  TORCH_CHECK(C * N < (int64_t(1) << 31), "sharpsplat native: cameras x Gaussians must stay below 2^31");
  std::vector<int32_t> offsets, ids;
  DISPATCH_FLOAT(dt, [&] {
    sharpsplat::bin_gaussians<scalar_t>(int(C), int(N), ptr<scalar_t>(means2d), ptr<scalar_t>(conics),
                                        ptr<scalar_t>(opacities), radii.data_ptr<int32_t>(), ptr<scalar_t>(depths),
                                        int(W), int(H), int(tile_size), offsets, ids, threads());
  });
  return {to_tensor(offsets), to_tensor(ids)};
}

std::tuple<Tensor, Tensor> raster_fwd(const Tensor& means2d, const Tensor& conics, const Tensor& opacities,
                                      const Tensor& colors, const Tensor& offsets, const Tensor& ids, int64_t W,
                                      int64_t H, int64_t tile_size) {
  const auto dt = means2d.scalar_type();
  check(means2d, "means2d", dt, 3), check(conics, "conics", dt, 3), check(opacities, "opacities", dt, 1);
  check(colors, "colors", dt, 3), check(offsets, "tile_offsets", at::kInt, 1), check(ids, "flat_ids", at::kInt, 1);
  const int64_t C = means2d.size(0), N = means2d.size(1), ch = colors.size(2);
  TORCH_CHECK(ch == 3 || ch == 4, "sharpsplat native: 3 or 4 channels, got ", ch);
  auto opt = means2d.options();
  Tensor image = at::empty({C, H, W, ch}, opt), alpha = at::empty({C, H, W}, opt);
  DISPATCH_FLOAT(dt, [&] {
    sharpsplat::rasterize_forward<scalar_t>(int(C), int(N), int(ch), ptr<scalar_t>(means2d), ptr<scalar_t>(conics),
                                            ptr<scalar_t>(opacities), ptr<scalar_t>(colors), int(W), int(H),
                                            int(tile_size), offsets.data_ptr<int32_t>(), ids.data_ptr<int32_t>(),
                                            mptr<scalar_t>(image), mptr<scalar_t>(alpha), threads());
  });
  return {image, alpha};
}

std::tuple<Tensor, Tensor, Tensor, Tensor> raster_bwd(const Tensor& means2d, const Tensor& conics,
                                                      const Tensor& opacities, const Tensor& colors,
                                                      const Tensor& offsets, const Tensor& ids, const Tensor& image,
                                                      const Tensor& alpha, const Tensor& g_image,
                                                      const Tensor& g_alpha, int64_t W, int64_t H,
                                                      int64_t tile_size) {
  const auto dt = means2d.scalar_type();
  check(means2d, "means2d", dt, 3), check(conics, "conics", dt, 3), check(opacities, "opacities", dt, 1);
  check(colors, "colors", dt, 3), check(offsets, "tile_offsets", at::kInt, 1), check(ids, "flat_ids", at::kInt, 1);
  check(image, "image", dt, 4), check(alpha, "alpha", dt, 3), check(g_image, "g_image", dt, 4);
  check(g_alpha, "g_alpha", dt, 3);
  const int64_t C = means2d.size(0), N = means2d.size(1), ch = colors.size(2);
  auto opt = means2d.options();
  Tensor g_means2d = at::empty({C, N, 2}, opt), g_conics = at::empty({C, N, 3}, opt);
  Tensor g_opacities = at::empty({N}, opt), g_colors = at::empty({C, N, ch}, opt);
  DISPATCH_FLOAT(dt, [&] {
    sharpsplat::rasterize_backward<scalar_t>(
        int(C), int(N), int(ch), ptr<scalar_t>(means2d), ptr<scalar_t>(conics), ptr<scalar_t>(opacities),
        ptr<scalar_t>(colors), int(W), int(H), int(tile_size), offsets.data_ptr<int32_t>(), ids.data_ptr<int32_t>(),
        ptr<scalar_t>(image), ptr<scalar_t>(alpha), ptr<scalar_t>(g_image), ptr<scalar_t>(g_alpha),
        mptr<scalar_t>(g_means2d), mptr<scalar_t>(g_conics), mptr<scalar_t>(g_opacities), mptr<scalar_t>(g_colors),
        threads());
  });
  return {g_means2d, g_conics, g_opacities, g_colors};
}

}  // namespace

TORCH_LIBRARY(sharpsplat_native, m) {
  m.def("project_fwd", &project_fwd);
  m.def("project_bwd", &project_bwd);
  m.def("bin", &bin);
  m.def("raster_fwd", &raster_fwd);
  m.def("raster_bwd", &raster_bwd);
}
