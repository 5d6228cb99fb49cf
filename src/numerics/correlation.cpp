#include "numerics/correlation.hpp"

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <Eigen/Eigenvalues>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <utility>

namespace marginsim::detail {
namespace {

using RowMajorMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

Eigen::MatrixXd to_eigen(const std::vector<double>& matrix, std::size_t n) {
    assert(matrix.size() == n * n);
    const auto size = static_cast<Eigen::Index>(n);
    return Eigen::Map<const RowMajorMatrix>(matrix.data(), size, size);
}

std::vector<double> to_row_major(const Eigen::MatrixXd& matrix) {
    const RowMajorMatrix row_major = matrix;
    return {row_major.data(), row_major.data() + row_major.size()};
}

// Nearest PSD matrix in the Frobenius norm: negative eigenvalues clipped to zero.
Eigen::MatrixXd project_onto_psd(const Eigen::MatrixXd& symmetric) {
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eigen(symmetric);
    const Eigen::VectorXd clipped = eigen.eigenvalues().cwiseMax(0.0);
    return eigen.eigenvectors() * clipped.asDiagonal() * eigen.eigenvectors().transpose();
}

Eigen::MatrixXd with_unit_diagonal(Eigen::MatrixXd matrix) {
    matrix.diagonal().setOnes();
    return matrix;
}

double relative_change(const Eigen::MatrixXd& current, const Eigen::MatrixXd& previous) {
    const double scale = current.norm();
    return scale > 0.0 ? (current - previous).norm() / scale : (current - previous).norm();
}

// D^-1/2 A D^-1/2 with D = diag(A): a congruence, so it keeps A positive semi-definite.
Eigen::MatrixXd rescaled_to_unit_diagonal(const Eigen::MatrixXd& psd) {
    assert((psd.diagonal().array() > 0.0).all());
    const Eigen::VectorXd inverse_sqrt = psd.diagonal().cwiseSqrt().cwiseInverse();
    Eigen::MatrixXd scaled = inverse_sqrt.asDiagonal() * psd * inverse_sqrt.asDiagonal();
    scaled = (0.5 * (scaled + scaled.transpose())).eval();
    return with_unit_diagonal(std::move(scaled));
}

// Cholesky without pivoting that zeroes the column of every (relatively) non-positive pivot:
// for a PSD matrix the remaining column of such a pivot is zero too, so L L^T stays exact.
Eigen::MatrixXd semidefinite_cholesky(const Eigen::MatrixXd& a) {
    constexpr double relative_pivot_floor = 1e-12;
    const Eigen::Index n = a.rows();
    Eigen::MatrixXd lower = Eigen::MatrixXd::Zero(n, n);
    for (Eigen::Index k = 0; k < n; ++k) {
        const double pivot = a(k, k) - lower.row(k).head(k).squaredNorm();
        if (pivot <= relative_pivot_floor * std::abs(a(k, k))) {
            continue;
        }
        const double diagonal = std::sqrt(pivot);
        lower(k, k) = diagonal;
        for (Eigen::Index i = k + 1; i < n; ++i) {
            lower(i, k) = (a(i, k) - lower.row(i).head(k).dot(lower.row(k).head(k))) / diagonal;
        }
    }
    return lower;
}

}  // namespace

double smallest_eigenvalue(const std::vector<double>& matrix, std::size_t n) {
    assert(n > 0);
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eigen(to_eigen(matrix, n),
                                                               Eigen::EigenvaluesOnly);
    return eigen.eigenvalues()(0);
}

NearestCorrelation nearest_correlation(const std::vector<double>& matrix, std::size_t n,
                                       double tolerance, int max_iterations) {
    const Eigen::MatrixXd input = to_eigen(matrix, n);
    const Eigen::MatrixXd symmetric_input = 0.5 * (input + input.transpose());

    // Higham (2002), algorithm 3.3 with W = I: alternate the projections onto the PSD cone and
    // onto the unit-diagonal matrices, with Dykstra's correction applied before the PSD one.
    Eigen::MatrixXd unit_diagonal = symmetric_input;
    Eigen::MatrixXd psd = Eigen::MatrixXd::Zero(input.rows(), input.cols());
    Eigen::MatrixXd correction = Eigen::MatrixXd::Zero(input.rows(), input.cols());
    int iterations = 0;
    while (iterations < max_iterations) {
        ++iterations;
        const Eigen::MatrixXd shifted = unit_diagonal - correction;
        Eigen::MatrixXd next_psd = project_onto_psd(shifted);
        correction = next_psd - shifted;
        Eigen::MatrixXd next_unit_diagonal = with_unit_diagonal(next_psd);
        const double change = std::max({relative_change(next_unit_diagonal, unit_diagonal),
                                        relative_change(next_psd, psd),
                                        relative_change(next_unit_diagonal, next_psd)});
        unit_diagonal = std::move(next_unit_diagonal);
        psd = std::move(next_psd);
        if (change <= tolerance) {
            break;
        }
    }

    // The last unit-diagonal step leaves negative eigenvalues of the order of the tolerance: one
    // more PSD projection, then a rescale to unit diagonal (which keeps PSD), moves by as little.
    const Eigen::MatrixXd result = rescaled_to_unit_diagonal(project_onto_psd(unit_diagonal));
    return {to_row_major(result), (result - input).norm(), iterations};
}

std::vector<double> cholesky_lower(const std::vector<double>& matrix, std::size_t n) {
    const Eigen::MatrixXd a = to_eigen(matrix, n);
    const Eigen::LLT<Eigen::MatrixXd> llt(a);
    if (llt.info() == Eigen::Success) {
        const Eigen::MatrixXd lower = llt.matrixL();
        if (lower.allFinite()) {
            return to_row_major(lower);
        }
    }
    return to_row_major(semidefinite_cholesky(a));
}

}  // namespace marginsim::detail
