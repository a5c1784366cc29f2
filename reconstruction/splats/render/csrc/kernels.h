// Native CPU rasterizer for sharpsplat: EWA projection, tile binning, depth sorting, front-to-back
// compositing and their backward passes, on raw contiguous arrays (no torch headers, so that this translation
// unit compiles in seconds). The maths is the PyTorch backend's (reconstruction/splats/render/projection.py,
// tiles.py, composite.py), itself gsplat 1.5.3's classic rasterization. T is float or double.
//
// Array conventions (all row-major, contiguous): C cameras, N Gaussians, ch composited channels.
//   means [N,3], quats [N,4] (w,x,y,z), scales [N,3], opacities [N], viewmats [C,4,4], Ks [C,3,3]
//   means2d [C,N,2] px, conics [C,N,3] (a,b,c), depths [C,N], radii [C,N,2] int32 (0 = culled)
//   colors [C,N,ch], image [C,H,W,ch], alpha [C,H,W]
//   tile_offsets [C*tiles_y*tiles_x + 1], flat_ids [M] (c*N + n, front to back within a tile)
#pragma once

#include <cstdint>
#include <vector>

namespace sharpsplat {

template <typename T>
void project_forward(int C, int N, const T* means, const T* quats, const T* scales, const T* opacities,
                     const T* viewmats, const T* Ks, int W, int H, T eps2d, T near_plane, T far_plane,
                     T* means2d, T* conics, T* depths, int32_t* radii, int nthreads);

// Gradients w.r.t. means, quats, scales and viewmats (overwritten, not accumulated).
template <typename T>
void project_backward(int C, int N, const T* means, const T* quats, const T* scales, const T* viewmats,
                      const T* Ks, int W, int H, T eps2d, T near_plane, T far_plane, const T* g_means2d,
                      const T* g_conics, const T* g_depths, T* g_means, T* g_quats, T* g_scales, T* g_viewmats,
                      int nthreads);

// Tile lists, depth-sorted front to back (ties by index), of the tiles that each Gaussian's 1/255 ellipse reaches.
template <typename T>
void bin_gaussians(int C, int N, const T* means2d, const T* conics, const T* opacities, const int32_t* radii,
                   const T* depths, int W, int H, int tile_size, std::vector<int32_t>& tile_offsets,
                   std::vector<int32_t>& flat_ids, int nthreads);

template <typename T>
void rasterize_forward(int C, int N, int ch, const T* means2d, const T* conics, const T* opacities,
                       const T* colors, int W, int H, int tile_size, const int32_t* tile_offsets,
                       const int32_t* flat_ids, T* image, T* alpha, int nthreads);

// Gradients w.r.t. means2d, conics, opacities [N] and colors (overwritten). image/alpha are the forward outputs.
template <typename T>
void rasterize_backward(int C, int N, int ch, const T* means2d, const T* conics, const T* opacities,
                        const T* colors, int W, int H, int tile_size, const int32_t* tile_offsets,
                        const int32_t* flat_ids, const T* image, const T* alpha, const T* g_image,
                        const T* g_alpha, T* g_means2d, T* g_conics, T* g_opacities, T* g_colors, int nthreads);

}  // namespace sharpsplat
