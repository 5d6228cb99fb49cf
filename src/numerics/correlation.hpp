#pragma once
// Correlation-matrix numerics (Eigen stays behind this private header).
// Matrices are row-major std::vector<double> of n*n entries.

#include <cstddef>
#include <vector>

namespace marginsim::detail {

// Smallest eigenvalue of a symmetric matrix.
double smallest_eigenvalue(const std::vector<double>& matrix, std::size_t n);

struct NearestCorrelation {
    std::vector<double> matrix;   // row-major, PSD, unit diagonal
    double frobenius_distance = 0.0;  // ||result - input||_F
    int iterations = 0;
};
// Higham's nearest correlation matrix (alternating projections with Dykstra's
// correction) of a symmetric matrix, to `tolerance` in the change per iteration.
NearestCorrelation nearest_correlation(const std::vector<double>& matrix, std::size_t n,
                                       double tolerance = 1e-10, int max_iterations = 10000);

// Lower-triangular L (row-major) with L L^T = matrix, for a positive semi-definite matrix:
// Eigen's LLT when it is positive definite; otherwise a semi-definite Cholesky that sets the
// columns of zero pivots to zero (exact for PSD input such as perfectly correlated assets).
std::vector<double> cholesky_lower(const std::vector<double>& matrix, std::size_t n);

}  // namespace marginsim::detail
