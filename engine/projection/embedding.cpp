// Large-N embeddings: exact k-nearest neighbours by blocked matrix products (torch BLAS), sparse t-SNE
// with Barnes–Hut (van der Maaten 2014) or FFT-interpolated (Linderman et al. 2019) repulsion, and UMAP
// (McInnes, Healy & Melville 2018). The loops over points run on LibTorch's intra-op threads.
#include <ATen/Parallel.h>
#include <torch/fft.h>
#include <torch/torch.h>

#include "engine/core/errors.h"
#include "engine/projection/affinities.h"
#include "engine/projection/projection.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace pellucid {

namespace {

void checkFeatures(const TensorValue &f)
{
    if (f.shape().size() != 2 || f.dim(0) < 2 || f.dim(1) < 1)
        throw Error(ErrorCode::BadInput, "Features must be a matrix [N ≥ 2, D ≥ 1], not " + shapeToString(f.shape()));
    for (int64_t i = 0; i < f.numel(); ++i)
        if (!std::isfinite(f.at(i)))
            throw Error(ErrorCode::BadInput, "The features hold a non-finite value (row " + std::to_string(i / f.dim(1)) + ")");
}

void throwIfCancelled(const std::function<bool()> &c)
{
    if (c && c()) throw Error(ErrorCode::Cancelled, "Projection cancelled");
}

}   // namespace

KnnGraph nearestNeighbours(const TensorValue &features, int k, const std::function<bool()> &cancelled)
{
    checkFeatures(features);
    const int64_t n = features.dim(0), d = features.dim(1);
    if (k < 1 || k >= n)
        throw Error(ErrorCode::BadInput, "k = " + std::to_string(k) + " nearest neighbours need more than k points (N = " + std::to_string(n) + ")");
    torch::NoGradGuard ng;
    // Candidates in single precision, k + margin of them per row, then re-ranked by the exact distance in
    // double precision, so a rounding near the k-th distance cannot change the result unless it moves a point
    // past `margin` others. The candidates come from the Gram matrix by square blocks, each block (I, J ≥ I)
    // serving the rows of I and, transposed, those of J (half the products): |x_j|² − 2·x_i·x_j ranks row i
    // as the squared distance does; every row keeps a bounded max-heap of its best candidates.
    const at::Tensor X = torch::from_blob(const_cast<float *>(features.data()), {n, d}, torch::kFloat);
    const std::vector<float> sq = [&] {
        const at::Tensor s = X.pow(2).sum(1).contiguous();
        return std::vector<float>(s.data_ptr<float>(), s.data_ptr<float>() + n);
    }();
    const int candidates = int(std::min<int64_t>(n - 1, int64_t(k) + std::max(8, k / 4)));
    using Entry = std::pair<float, int32_t>;
    std::vector<Entry> heap(size_t(n) * size_t(candidates));
    std::vector<int> heapSize(static_cast<size_t>(n), 0);
    auto offer = [&](int64_t row, float score, int32_t j) {
        Entry *hp = heap.data() + row * candidates;
        int &size = heapSize[size_t(row)];
        const Entry e{score, j};
        if (size < candidates) {
            hp[size++] = e;
            std::push_heap(hp, hp + size);
        } else if (e < hp[0]) {
            std::pop_heap(hp, hp + size);
            hp[size - 1] = e;
            std::push_heap(hp, hp + size);
        }
    };
    const int64_t block = std::min<int64_t>(n, 2048);
    for (int64_t b0 = 0; b0 < n; b0 += block) {
        throwIfCancelled(cancelled);
        const int64_t e0 = std::min(n, b0 + block);
        const at::Tensor XI = X.narrow(0, b0, e0 - b0);
        for (int64_t b1 = b0; b1 < n; b1 += block) {
            const int64_t e1 = std::min(n, b1 + block);
            const at::Tensor G = XI.matmul(X.narrow(0, b1, e1 - b1).t()).contiguous();   // [I, J]
            const float *gp = G.data_ptr<float>();
            const int64_t cols = e1 - b1;
            at::parallel_for(b0, e0, 64, [&](int64_t r0, int64_t r1) {
                for (int64_t i = r0; i < r1; ++i)
                    for (int64_t c = 0; c < cols; ++c)
                        if (b1 + c != i) offer(i, sq[size_t(b1 + c)] - 2 * gp[(i - b0) * cols + c], int32_t(b1 + c));
            });
            if (b1 == b0) continue;
            const at::Tensor Gt = G.t().contiguous();   // [J, I]
            const float *gt = Gt.data_ptr<float>();
            const int64_t rows = e0 - b0;
            at::parallel_for(b1, e1, 64, [&](int64_t r0, int64_t r1) {
                for (int64_t j = r0; j < r1; ++j)
                    for (int64_t r = 0; r < rows; ++r) offer(j, sq[size_t(b0 + r)] - 2 * gt[(j - b1) * rows + r], int32_t(b0 + r));
            });
        }
    }
    KnnGraph g;
    g.k = k;
    g.index.resize(size_t(n * k));
    g.distance.resize(size_t(n * k));
    {
        std::vector<int32_t> candidateIndex(size_t(n) * size_t(candidates));
        for (size_t t = 0; t < heap.size(); ++t) candidateIndex[t] = heap[t].second;
        std::vector<Entry>().swap(heap);
        const int32_t *cand = candidateIndex.data();
        const float *x = features.data();
        at::parallel_for(0, n, 16, [&](int64_t r0, int64_t r1) {
            std::vector<std::pair<double, int32_t>> row(static_cast<size_t>(candidates));
            for (int64_t i = r0; i < r1; ++i) {
                const float *xi = x + i * d;
                for (int c = 0; c < candidates; ++c) {
                    const int32_t j = cand[i * candidates + c];
                    const float *xj = x + int64_t(j) * d;
                    double s = 0;
                    for (int64_t t = 0; t < d; ++t) {
                        const double u = double(xi[t]) - double(xj[t]);
                        s += u * u;
                    }
                    row[size_t(c)] = {s, j};
                }
                std::partial_sort(row.begin(), row.begin() + k, row.end());
                for (int c = 0; c < k; ++c) {
                    g.distance[size_t(i * k + c)] = float(std::sqrt(row[size_t(c)].first));
                    g.index[size_t(i * k + c)] = row[size_t(c)].second;
                }
            }
        });
    }
    return g;
}

namespace {

/// A 2-D quadtree over the embedding for the Barnes–Hut repulsion.
struct QuadTree {
    struct Node {
        double cx, cy, half;     // cell centre and half width
        double mx = 0, my = 0;   // centre of mass
        int count = 0;
        int child = -1;   // first of four children, or −1
        int point = -1;   // a leaf's single point
    };
    std::vector<Node> nodes;
    const double *Y = nullptr;

    void build(const double *y, int64_t n)
    {
        Y = y;
        double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
        for (int64_t i = 0; i < n; ++i) {
            x0 = std::min(x0, y[2 * i]);
            x1 = std::max(x1, y[2 * i]);
            y0 = std::min(y0, y[2 * i + 1]);
            y1 = std::max(y1, y[2 * i + 1]);
        }
        nodes.clear();
        nodes.reserve(size_t(4 * n));
        nodes.push_back({(x0 + x1) / 2, (y0 + y1) / 2, std::max(x1 - x0, y1 - y0) / 2 + 1e-5});
        for (int64_t i = 0; i < n; ++i) insert(0, int(i), 0);
    }

    void insert(int node, int p, int depth)
    {
        const double px = Y[2 * p], py = Y[2 * p + 1];
        for (;;) {
            Node &nd = nodes[size_t(node)];
            nd.mx = (nd.mx * nd.count + px) / (nd.count + 1);
            nd.my = (nd.my * nd.count + py) / (nd.count + 1);
            ++nd.count;
            if (nd.child < 0 && nd.count == 1) {
                nd.point = p;
                return;
            }
            if (nd.child < 0) {
                if (depth > 48) return;   // duplicate points: keep them lumped in this leaf
                const int old = nd.point;
                nd.point = -1;
                const double h = nd.half / 2, cx = nd.cx, cy = nd.cy;
                const int first = int(nodes.size());
                nodes[size_t(node)].child = first;
                for (int q = 0; q < 4; ++q) nodes.push_back({cx + ((q & 1) ? h : -h), cy + ((q & 2) ? h : -h), h});
                Node &parent = nodes[size_t(node)];
                // Re-insert the old point into its child (its mass is already counted above).
                const int qo = (Y[2 * old] > parent.cx ? 1 : 0) | (Y[2 * old + 1] > parent.cy ? 2 : 0);
                Node &co = nodes[size_t(first + qo)];
                co.mx = Y[2 * old];
                co.my = Y[2 * old + 1];
                co.count = 1;
                co.point = old;
            }
            Node &cur = nodes[size_t(node)];
            const int q = (px > cur.cx ? 1 : 0) | (py > cur.cy ? 2 : 0);
            node = cur.child + q;
            ++depth;
        }
    }

    /// Adds the repulsive force on point i (unnormalised, Σ q²·(yi − yj)) and returns Σ q over the others.
    double repulse(int64_t i, double theta, double &fx, double &fy) const
    {
        const double px = Y[2 * i], py = Y[2 * i + 1];
        double sumQ = 0;
        int stack[256];
        int top = 0;
        stack[top++] = 0;
        while (top > 0) {
            const Node &nd = nodes[size_t(stack[--top])];
            if (nd.count == 0) continue;
            if (nd.child < 0 && nd.point == int(i) && nd.count == 1) continue;
            const double dx = px - nd.mx, dy = py - nd.my, d2 = dx * dx + dy * dy;
            if (nd.child < 0 || (2 * nd.half) * (2 * nd.half) < theta * theta * d2) {
                // A summary cell (or a leaf): its mass minus i itself when i is inside this leaf.
                const int count = nd.count - ((nd.child < 0 && nd.point == int(i)) ? 1 : 0);
                if (count <= 0) continue;
                const double q = 1 / (1 + d2);
                sumQ += count * q;
                fx += count * q * q * dx;
                fy += count * q * q * dy;
            } else {
                for (int c = 0; c < 4 && top < 252; ++c) stack[top++] = nd.child + c;
            }
        }
        return sumQ;
    }
};

/// FFT-accelerated interpolation of t-SNE's repulsion (Linderman, Rachh, Hoskins, Steinerberger & Kluger
/// 2019, "Fast interpolation-based t-SNE for improved visualization of single-cell RNA-seq data", as
/// FIt-SNE's nbodyfft): the square around the embedding is cut into C × C cells with p = 3 equispaced nodes
/// a side in each; every point spreads charges onto its cell's 3 × 3 nodes by
/// Lagrange weights; the kernel (1 + d²)⁻² between all pairs of the (3C)² nodes is one circulant
/// convolution (FFT of size 6C a side); the potentials come back to the points by the same weights. Then
/// Σ_j q_ij²(y_i − y_j) = y_i·φ₁ − φ_y and Σ_j q_ij = (1 + |y_i|²)·φ₁ − 2·y_i·φ_y + φ_|y|² (self terms removed).
/// Only the total Z = Σ_i Σ_j q_ij is needed, and as the gathering weights are the spreading ones and the
/// kernel is symmetric, Σ_i φ_|y|²(i) = Σ_i |y_i|²·φ₁(i) exactly: three charges (1, y₁, y₂) suffice. That sum
/// cancels once |y| is large against the distances (in single precision Z came out negative on an embedding
/// blown up to 10⁶ units), so on such grids — past maxCells, where the cells widen — the charge 1 is also
/// convolved with (1 + d²)⁻¹ and Z = Σ_i (φ'₁(i) − 1), with no cancellation (one more inverse transform,
/// which at 60,000 points costs 35 ms an iteration).
struct GridRepulsion {
    static constexpr int p = 3;
    int minCells = 50;
    // FIt-SNE has 1 cell per unit; 1.25 halves the error (README: on 60,000 Fashion-MNIST items it keeps
    // Barnes–Hut's 10-NN preservation within 0.004, where 1 loses 0.011).
    double cellsPerUnit = 1.25;
    // Beyond this the cells widen instead (an embedding blown up by a huge learning rate must not ask for a
    // grid of gigabytes): 400 a side is an FFT of 2,400², ~70 MB a field.
    int maxCells = 400;
    // The kernel's transform, kept while the grid's size and spacing stay (its spacing is fixed at
    // 1 / (p·cellsPerUnit) once the embedding is wider than minCells / cellsPerUnit).
    at::Tensor kernelHat;
    int64_t kernelF = 0;
    double kernelH = 0;
    at::Tensor charges, chargeSpectrum, spectrum, potential;
    int64_t bufferF = 0;
    // Per point and per node, kept too (the node sums are 3·(3C)² doubles: ~28 MB at 60,000 points).
    std::vector<int32_t> cellOf;
    std::vector<double> weight, sum;

    static int smooth(int v)
    {
        for (;; ++v) {
            int r = v;
            for (int f : {2, 3, 5})
                while (r % f == 0) r /= f;
            if (r == 1) return v;
        }
    }

    /// rep [2N] (forces, unnormalised), into q [N] per-point terms summing to Z.
    /// The convolution runs in single precision (its rounding, relative to the largest potential, stays
    /// well below the interpolation's own error; tests/engine/projection measures both against the exact sums).
    void compute(const double *Y, int64_t n, double *rep, double *q)
    {
        double lo = INFINITY, hi = -INFINITY;
        for (int64_t i = 0; i < 2 * n; ++i) {
            lo = std::min(lo, Y[i]);
            hi = std::max(hi, Y[i]);
        }
        const double extent = std::max(hi - lo, 1e-8);
        int cells = minCells;
        double width = extent / minCells;
        const bool capped = extent * cellsPerUnit >= double(maxCells);
        if (capped) {
            cells = maxCells;
            width = extent / maxCells;
        } else if (extent * cellsPerUnit > minCells) {
            cells = std::min(maxCells, smooth(int(std::ceil(extent * cellsPerUnit)) + 1));
            width = 1 / cellsPerUnit;
            lo = (lo + hi) / 2 - cells * width / 2;   // the fixed-spacing grid, centred on the points
        }
        const double h = width / p;
        const int64_t M = int64_t(cells) * p, F = 2 * M;
        // Lagrange basis on the nodes (k + ½) / p of a cell.
        double node[p], denom[p];
        for (int k = 0; k < p; ++k) node[k] = (k + 0.5) / p;
        for (int k = 0; k < p; ++k) {
            denom[k] = 1;
            for (int l = 0; l < p; ++l)
                if (l != k) denom[k] *= node[k] - node[l];
        }
        cellOf.resize(size_t(2 * n));
        weight.resize(size_t(2 * n * p));
        at::parallel_for(0, n, 2048, [&](int64_t i0, int64_t i1) {
            for (int64_t i = i0; i < i1; ++i)
                for (int c = 0; c < 2; ++c) {
                    const double t = (Y[2 * i + c] - lo) / width;
                    const int cell = std::clamp(int(t), 0, cells - 1);
                    const double u = t - cell;
                    cellOf[size_t(2 * i + c)] = cell;
                    for (int k = 0; k < p; ++k) {
                        double w = 1;
                        for (int l = 0; l < p; ++l)
                            if (l != k) w *= u - node[l];
                        weight[size_t((2 * i + c) * p + k)] = w / denom[k];
                    }
                }
        });
        // The charges on the nodes (summed in double precision), then in the top-left M × M of an F × F
        // array, zero padded for the convolution to be acyclic.
        sum.assign(size_t(3 * M * M), 0.0);
        for (int64_t i = 0; i < n; ++i) {
            const double y1 = Y[2 * i], y2 = Y[2 * i + 1];
            const double c[3] = {1, y1, y2};
            const double *wx = &weight[size_t(2 * i * p)], *wy = &weight[size_t((2 * i + 1) * p)];
            const int64_t bx = int64_t(cellOf[size_t(2 * i)]) * p, by = int64_t(cellOf[size_t(2 * i + 1)]) * p;
            for (int kx = 0; kx < p; ++kx)
                for (int ky = 0; ky < p; ++ky) {
                    const double ww = wx[kx] * wy[ky];
                    const int64_t at = (bx + kx) * M + (by + ky);
                    for (int t = 0; t < 3; ++t) sum[size_t(t * M * M + at)] += ww * c[t];
                }
        }
        // Buffers kept between iterations: fresh ones of this size (tens of MB) come from mmap and fault in
        // page by page every time, which costs more than the transforms.
        if (F != bufferF) {
            charges = torch::zeros({3, F, F}, torch::kFloat);
            chargeSpectrum = torch::empty({3, F, F / 2 + 1}, torch::kComplexFloat);
            spectrum = torch::empty({4, F, F / 2 + 1}, torch::kComplexFloat);
            potential = torch::empty({4, F, F}, torch::kFloat);
            bufferF = F;
        }
        {
            float *w = charges.data_ptr<float>();
            at::parallel_for(0, 3 * M, 64, [&](int64_t r0, int64_t r1) {
                for (int64_t r = r0; r < r1; ++r) {
                    const int64_t t = r / M, a = r % M;
                    float *dst = w + (t * F + a) * F;
                    const double *src = &sum[size_t((t * M + a) * M)];
                    for (int64_t b = 0; b < M; ++b) dst[b] = float(src[b]);
                }
            });
        }
        // The kernels (1 + d²)⁻² and (1 + d²)⁻¹ between nodes a·h apart, laid out so that the cyclic
        // convolution's entry (M + a, M + b) is Σ_(a', b') K(a − a', b − b')·charge(a', b').
        if (F != kernelF || h != kernelH) {
            at::Tensor kernel = torch::zeros({2, F, F}, torch::kFloat);
            float *kk = kernel.data_ptr<float>();
            for (int64_t i = 0; i < M; ++i)
                for (int64_t j = 0; j < M; ++j) {
                    const double d2 = (i * h) * (i * h) + (j * h) * (j * h);
                    for (int c = 0; c < 2; ++c) {
                        const float v = float(c == 0 ? 1 / ((1 + d2) * (1 + d2)) : 1 / (1 + d2));
                        float *kc = kk + c * F * F;
                        kc[(M + i) * F + (M + j)] = v;
                        kc[(M - i) * F + (M + j)] = v;
                        kc[(M + i) * F + (M - j)] = v;
                        kc[(M - i) * F + (M - j)] = v;
                    }
                }
            kernelHat = torch::fft::rfft2(kernel);
            kernelF = F;
            kernelH = h;
        }
        at::fft_rfft2_out(chargeSpectrum, charges);
        at::Tensor products = spectrum.narrow(0, 0, 3), unitProduct = spectrum[3];
        at::mul_out(products, chargeSpectrum, kernelHat[0].unsqueeze(0));
        if (capped) {
            at::mul_out(unitProduct, chargeSpectrum[0], kernelHat[1]);
            at::fft_irfft2_out(potential, spectrum, c10::IntArrayRef{F, F});
        } else {
            at::Tensor three = potential.narrow(0, 0, 3);
            at::fft_irfft2_out(three, products, c10::IntArrayRef{F, F});
        }
        const float *phi = potential.data_ptr<float>();
        at::parallel_for(0, n, 2048, [&](int64_t i0, int64_t i1) {
            for (int64_t i = i0; i < i1; ++i) {
                const double *wx = &weight[size_t(2 * i * p)], *wy = &weight[size_t((2 * i + 1) * p)];
                const int64_t bx = M + int64_t(cellOf[size_t(2 * i)]) * p, by = M + int64_t(cellOf[size_t(2 * i + 1)]) * p;
                double f[4] = {0, 0, 0, 0};
                for (int kx = 0; kx < p; ++kx)
                    for (int ky = 0; ky < p; ++ky) {
                        const double ww = wx[kx] * wy[ky];
                        const int64_t at = (bx + kx) * F + (by + ky);
                        for (int t = 0; t < (capped ? 4 : 3); ++t) f[t] += ww * phi[t * F * F + at];
                    }
                const double y1 = Y[2 * i], y2 = Y[2 * i + 1];
                rep[2 * i] = y1 * f[0] - f[1];
                rep[2 * i + 1] = y2 * f[0] - f[2];
                // Minus q_ii = 1.
                q[i] = capped ? f[3] - 1 : (1 + 2 * (y1 * y1 + y2 * y2)) * f[0] - 2 * (y1 * f[1] + y2 * f[2]) - 1;
            }
        });
    }
};

/// The repulsion of either method: rep [2N], per-point Σ_j q_ij into q [N].
void repulsiveForces(const double *Y, int64_t n, TsneRepulsion method, double theta, QuadTree &tree, GridRepulsion &grid, double *rep, double *q)
{
    if (method == TsneRepulsion::Interpolation) {
        grid.compute(Y, n, rep, q);
        return;
    }
    tree.build(Y, n);
    at::parallel_for(0, n, 256, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
            rep[2 * i] = rep[2 * i + 1] = 0;
            q[i] = tree.repulse(i, theta, rep[2 * i], rep[2 * i + 1]);
        }
    });
}

}   // namespace

TsneRepulsion tsneRepulsionFor(int64_t n, TsneRepulsion requested)
{
    if (requested != TsneRepulsion::Auto) return requested;
    return n >= 10000 ? TsneRepulsion::Interpolation : TsneRepulsion::BarnesHut;
}

TsneRepulsiveForces tsneRepulsion(const TensorValue &embedding, TsneRepulsion method, double theta)
{
    checkFeatures(embedding);
    if (embedding.dim(1) != 2)
        throw Error(ErrorCode::BadInput, "The t-SNE repulsion is computed on a 2-D embedding, not " + shapeToString(embedding.shape()));
    const int64_t n = embedding.dim(0);
    std::vector<double> Y(embedding.data(), embedding.data() + 2 * n), rep(static_cast<size_t>(2 * n)), q(static_cast<size_t>(n));
    QuadTree tree;
    GridRepulsion grid;
    repulsiveForces(Y.data(), n, tsneRepulsionFor(n, method), theta, tree, grid, rep.data(), q.data());
    TsneRepulsiveForces r;
    r.forces = TensorValue({n, 2}, std::vector<float>(rep.begin(), rep.end()));
    for (double v : q) r.z += v;
    return r;
}

TensorValue tsneSparse(const TensorValue &features, const TsneOptions &o)
{
    checkFeatures(features);
    const int64_t n = features.dim(0);
    if (o.dims != 2) throw Error(ErrorCode::BadInput, "Sparse (Barnes–Hut or interpolated) t-SNE embeds in 2 dimensions");
    const TsneRepulsion method = tsneRepulsionFor(n, o.repulsion);
    const int k = int(std::min<int64_t>(n - 1, int64_t(3 * o.perplexity)));
    const KnnGraph g = nearestNeighbours(features, k, o.cancelled);
    // Conditional affinities over the k neighbours, precision by bisection on the entropy.
    std::vector<double> P(size_t(n * k));
    at::parallel_for(0, n, 256, [&](int64_t i0, int64_t i1) {
        std::vector<double> sq(static_cast<size_t>(k));
        for (int64_t i = i0; i < i1; ++i) {
            const float *dist = g.distance.data() + i * k;
            const double d0 = double(dist[0]) * dist[0];
            for (int j = 0; j < k; ++j) sq[size_t(j)] = double(dist[j]) * dist[j] - d0;
            conditionalAffinities(sq.data(), k, o.perplexity, 200, P.data() + i * k);
        }
    });
    // Symmetrise: p_ij = (p_j|i + p_i|j) / 2N on the union of the neighbour lists (CSR).
    std::vector<std::vector<std::pair<int32_t, double>>> rows(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
        for (int j = 0; j < k; ++j) {
            const int32_t t = g.index[size_t(i * k + j)];
            const double v = P[size_t(i * k + j)] / (2.0 * double(n));
            rows[size_t(i)].push_back({t, v});
            rows[size_t(t)].push_back({int32_t(i), v});
        }
    std::vector<int64_t> rowStart(size_t(n + 1), 0);
    std::vector<int32_t> col;
    std::vector<double> val;
    for (int64_t i = 0; i < n; ++i) {
        auto &r = rows[size_t(i)];
        std::sort(r.begin(), r.end());
        for (size_t a = 0; a < r.size();) {
            size_t b = a;
            double s = 0;
            while (b < r.size() && r[b].first == r[a].first) s += r[b++].second;
            col.push_back(r[a].first);
            val.push_back(s);
            a = b;
        }
        rowStart[size_t(i + 1)] = int64_t(col.size());
        std::vector<std::pair<int32_t, double>>().swap(r);
    }
    const double lr = o.learningRate > 0 ? o.learningRate : std::max(double(n) / 12.0 / 4.0, 50.0);
    std::mt19937 rng(o.seed);
    std::normal_distribution<double> gauss(0, 1e-4);
    std::vector<double> Y(size_t(n * 2)), vel(size_t(n * 2), 0.0), gains(size_t(n * 2), 1.0), grad(size_t(n * 2));
    std::vector<double> rep(static_cast<size_t>(n * 2)), qsum(static_cast<size_t>(n)), klTerm(static_cast<size_t>(n));
    for (auto &y : Y) y = gauss(rng);
    QuadTree tree;
    GridRepulsion grid;
    for (int it = 0; it < o.iterations; ++it) {
        throwIfCancelled(o.cancelled);
        const double exaggeration = it < 250 ? 12.0 : 1.0, momentum = it < 250 ? 0.5 : 0.8;
        repulsiveForces(Y.data(), n, method, o.theta, tree, grid, rep.data(), qsum.data());
        double sumQ = 0;   // summed in one order whatever the threads
        for (int64_t i = 0; i < n; ++i) sumQ += qsum[size_t(i)];
        const bool report = o.progress && (it % 50 == 49 || it + 1 == o.iterations);
        at::parallel_for(0, n, 512, [&](int64_t i0, int64_t i1) {
            for (int64_t i = i0; i < i1; ++i) {
                double ax = 0, ay = 0, kl = 0;
                const double yx = Y[size_t(2 * i)], yy = Y[size_t(2 * i + 1)];
                for (int64_t e = rowStart[size_t(i)]; e < rowStart[size_t(i + 1)]; ++e) {
                    const int32_t j = col[size_t(e)];
                    const double dx = yx - Y[size_t(2 * j)], dy = yy - Y[size_t(2 * j + 1)];
                    const double q = 1 / (1 + dx * dx + dy * dy);
                    const double pq = val[size_t(e)] * q;
                    ax += pq * dx;
                    ay += pq * dy;
                    if (report) kl += val[size_t(e)] * std::log(std::max(val[size_t(e)], 1e-300) / std::max(q / sumQ, 1e-300));
                }
                grad[size_t(2 * i)] = 4 * (exaggeration * ax - rep[size_t(2 * i)] / sumQ);
                grad[size_t(2 * i + 1)] = 4 * (exaggeration * ay - rep[size_t(2 * i + 1)] / sumQ);
                klTerm[size_t(i)] = kl;
            }
        });
        double kl = 0;
        if (report)
            for (int64_t i = 0; i < n; ++i) kl += klTerm[size_t(i)];
        for (int64_t i = 0; i < n * 2; ++i) {
            gains[size_t(i)] = (grad[size_t(i)] > 0) != (vel[size_t(i)] > 0) ? gains[size_t(i)] + 0.2 : std::max(0.01, gains[size_t(i)] * 0.8);
            vel[size_t(i)] = momentum * vel[size_t(i)] - lr * gains[size_t(i)] * grad[size_t(i)];
            Y[size_t(i)] += vel[size_t(i)];
        }
        for (int c = 0; c < 2; ++c) {
            double m = 0;
            for (int64_t i = 0; i < n; ++i) m += Y[size_t(2 * i + c)] / double(n);
            for (int64_t i = 0; i < n; ++i) Y[size_t(2 * i + c)] -= m;
        }
        if (report) o.progress(it + 1, kl, TensorValue({n, 2}, std::vector<float>(Y.begin(), Y.end())));
    }
    return TensorValue({n, 2}, std::vector<float>(Y.begin(), Y.end()));
}

void umapCurve(double minDist, double spread, double &a, double &b)
{
    // Least squares of 1/(1 + a x^(2b)) against the target on x ∈ (0, 3·spread], by Gauss–Newton on (log a, b).
    if (!(spread > 0) || minDist < 0 || minDist >= 3 * spread) throw Error(ErrorCode::BadInput, "UMAP needs spread > 0 and 0 ≤ min_dist < 3·spread");
    std::vector<double> xs, ys;
    for (int i = 1; i <= 300; ++i) {
        const double x = 3 * spread * i / 300.0;
        xs.push_back(x);
        ys.push_back(x < minDist ? 1.0 : std::exp(-(x - minDist) / spread));
    }
    double la = 0, bb = 1;
    for (int it = 0; it < 200; ++it) {
        double JtJ[2][2] = {{0, 0}, {0, 0}}, Jtr[2] = {0, 0};
        for (size_t i = 0; i < xs.size(); ++i) {
            const double x2b = std::pow(xs[i], 2 * bb), A = std::exp(la);
            const double den = 1 + A * x2b, f = 1 / den, r = f - ys[i];
            const double dla = -A * x2b / (den * den);                        // ∂f/∂log a
            const double db = -A * x2b * 2 * std::log(xs[i]) / (den * den);   // ∂f/∂b
            JtJ[0][0] += dla * dla;
            JtJ[0][1] += dla * db;
            JtJ[1][1] += db * db;
            Jtr[0] += dla * r;
            Jtr[1] += db * r;
        }
        JtJ[1][0] = JtJ[0][1];
        const double det = JtJ[0][0] * JtJ[1][1] - JtJ[0][1] * JtJ[1][0];
        if (std::fabs(det) < 1e-300) break;
        const double s0 = (JtJ[1][1] * Jtr[0] - JtJ[0][1] * Jtr[1]) / det;
        const double s1 = (JtJ[0][0] * Jtr[1] - JtJ[1][0] * Jtr[0]) / det;
        la -= std::clamp(s0, -1.0, 1.0);
        bb -= std::clamp(s1, -0.5, 0.5);
        bb = std::max(bb, 0.05);
        if (std::fabs(s0) + std::fabs(s1) < 1e-12) break;
    }
    a = std::exp(la);
    b = bb;
}

TensorValue umap(const TensorValue &features, const UmapOptions &o)
{
    checkFeatures(features);
    const int64_t n = features.dim(0);
    if (o.neighbours < 2) throw Error(ErrorCode::BadInput, "UMAP needs at least 2 neighbours");
    if (o.dims < 1) throw Error(ErrorCode::BadInput, "UMAP needs at least 1 output dimension");
    const int k = int(std::min<int64_t>(n - 1, o.neighbours));
    const KnnGraph g = nearestNeighbours(features, k, o.cancelled);
    // Fuzzy memberships: ρ_i the nearest non-zero distance, σ_i such that Σ_j exp(−(d_ij − ρ_i)/σ_i) = log2 k.
    const double target = std::log2(double(k));
    std::vector<std::vector<std::pair<int32_t, double>>> rows(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
        const float *dist = g.distance.data() + i * k;
        double rho = 0;
        for (int j = 0; j < k; ++j)
            if (dist[j] > 0) {
                rho = dist[j];
                break;
            }
        double lo = 0, hi = INFINITY, sigma = 1;
        for (int it = 0; it < 64; ++it) {
            double s = 0;
            for (int j = 0; j < k; ++j) s += std::exp(-std::max(0.0, double(dist[j]) - rho) / sigma);
            if (std::fabs(s - target) < 1e-5) break;
            if (s > target) {
                hi = sigma;
                sigma = (lo + hi) / 2;
            } else {
                lo = sigma;
                sigma = std::isinf(hi) ? sigma * 2 : (lo + hi) / 2;
            }
        }
        double meanDist = 0;
        for (int j = 0; j < k; ++j) meanDist += dist[j] / double(k);
        sigma = std::max(sigma, 1e-3 * meanDist);
        for (int j = 0; j < k; ++j) {
            const int32_t t = g.index[size_t(i * k + j)];
            const double w = std::exp(-std::max(0.0, double(dist[j]) - rho) / sigma);
            rows[size_t(i)].push_back({t, w});
        }
    }
    // Fuzzy union: w_ij + w_ji − w_ij·w_ji.
    std::vector<std::vector<std::pair<int32_t, double>>> both(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
        for (const auto &[j, w] : rows[size_t(i)]) {
            both[size_t(i)].push_back({j, w});
            both[size_t(j)].push_back({int32_t(i), w});
        }
    std::vector<int32_t> head, tail;
    std::vector<double> weight;
    for (int64_t i = 0; i < n; ++i) {
        auto &r = both[size_t(i)];
        std::sort(r.begin(), r.end());
        for (size_t a = 0; a < r.size();) {
            size_t b = a;
            double prod = 1, sum = 0;
            int cnt = 0;
            while (b < r.size() && r[b].first == r[a].first) {
                sum += r[b].second;
                prod *= r[b].second;
                ++cnt;
                ++b;
            }
            const double w = cnt >= 2 ? sum - prod : sum;   // present both ways: union; one way: w
            if (r[a].first > i) {                           // each undirected edge once, from its smaller end
                head.push_back(int32_t(i));
                tail.push_back(r[a].first);
                weight.push_back(w);
            }
            a = b;
        }
    }
    const int epochs = o.epochs > 0 ? o.epochs : (n > 10000 ? 200 : 500);
    const double wmax = weight.empty() ? 1.0 : *std::max_element(weight.begin(), weight.end());
    std::vector<double> epochsPerSample(weight.size()), nextSample(weight.size()), nextNegative(weight.size());
    for (size_t e = 0; e < weight.size(); ++e) {
        // Edges below 1/epochs of the strongest are never sampled (as umap-learn prunes them).
        epochsPerSample[e] = weight[e] >= wmax / epochs ? wmax / weight[e] : -1;
        nextSample[e] = epochsPerSample[e];
        nextNegative[e] = epochsPerSample[e] / o.negativeSamples;
    }
    double a = 0, b = 0;
    umapCurve(o.minDist, o.spread, a, b);
    // Initialisation: the leading principal components scaled to ±10, plus a little noise.
    const int dims = o.dims;
    const PcaResult p = pca(features, std::min<int>(dims, int(std::min<int64_t>(n, features.dim(1)))), o.seed);
    std::vector<double> Y(size_t(n * dims), 0.0);
    std::mt19937 rng(o.seed);
    std::normal_distribution<double> noise(0, 1e-4);
    for (int c = 0; c < int(p.projected.dim(1)); ++c) {
        double m = 0;
        for (int64_t i = 0; i < n; ++i) m = std::max(m, double(std::fabs(p.projected.at(i * p.projected.dim(1) + c))));
        for (int64_t i = 0; i < n; ++i) Y[size_t(i * dims + c)] = 10.0 * p.projected.at(i * p.projected.dim(1) + c) / std::max(m, 1e-12);
    }
    for (auto &y : Y) y += noise(rng);
    std::uniform_int_distribution<int64_t> pick(0, n - 1);
    auto clip = [](double v) { return std::clamp(v, -4.0, 4.0); };
    for (int epoch = 0; epoch < epochs; ++epoch) {
        throwIfCancelled(o.cancelled);
        const double alpha = o.learningRate * (1.0 - double(epoch) / double(epochs));
        for (size_t e = 0; e < weight.size(); ++e) {
            if (epochsPerSample[e] < 0 || nextSample[e] > epoch + 1) continue;
            const int64_t i = head[e], j = tail[e];
            double d2 = 0;
            for (int c = 0; c < dims; ++c) {
                const double t = Y[size_t(i * dims + c)] - Y[size_t(j * dims + c)];
                d2 += t * t;
            }
            if (d2 > 0) {
                const double coef = -2 * a * b * std::pow(d2, b - 1) / (1 + a * std::pow(d2, b));
                for (int c = 0; c < dims; ++c) {
                    const double gr = clip(coef * (Y[size_t(i * dims + c)] - Y[size_t(j * dims + c)])) * alpha;
                    Y[size_t(i * dims + c)] += gr;
                    Y[size_t(j * dims + c)] -= gr;
                }
            }
            nextSample[e] += epochsPerSample[e];
            const int negatives = int((epoch + 1 - nextNegative[e]) / (epochsPerSample[e] / o.negativeSamples));
            for (int s = 0; s < negatives; ++s) {
                const int64_t kneg = pick(rng);
                if (kneg == i) continue;
                double q2 = 0;
                for (int c = 0; c < dims; ++c) {
                    const double t = Y[size_t(i * dims + c)] - Y[size_t(kneg * dims + c)];
                    q2 += t * t;
                }
                const double coef = q2 > 0 ? 2 * b / ((0.001 + q2) * (1 + a * std::pow(q2, b))) : 0.0;
                for (int c = 0; c < dims; ++c)
                    Y[size_t(i * dims + c)] += (coef > 0 ? clip(coef * (Y[size_t(i * dims + c)] - Y[size_t(kneg * dims + c)])) : 4.0) * alpha;
            }
            nextNegative[e] += negatives * (epochsPerSample[e] / o.negativeSamples);
        }
        if (o.progress && (epoch % 10 == 9 || epoch + 1 == epochs))
            o.progress(epoch + 1, TensorValue({n, int64_t(dims)}, std::vector<float>(Y.begin(), Y.end())));
    }
    return TensorValue({n, int64_t(dims)}, std::vector<float>(Y.begin(), Y.end()));
}

}   // namespace pellucid
