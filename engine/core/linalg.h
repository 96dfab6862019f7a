#pragma once
// Small dense linear algebra for the engine's plain-C++ statistics (PCA, Fréchet distance, least squares).
#include <cstdint>
#include <vector>

namespace pellucid {

/// Eigen-decomposition of a symmetric d×d matrix (row-major) by cyclic Jacobi rotations. `values` gets the
/// eigenvalues (in no particular order), `vectors` the matching unit eigenvectors as its columns (row-major).
void symmetricEigen(std::vector<double> A, int64_t d, std::vector<double> &values, std::vector<double> &vectors);

/// Solves A x = b for a symmetric positive-definite n×n A (row-major) by Cholesky; false when A is not
/// positive definite.
bool solveSpd(std::vector<double> A, std::vector<double> b, int64_t n, std::vector<double> &x);

}   // namespace pellucid
