#include "numerics/correlation.hpp"

#include <catch2/catch.hpp>

#include <Eigen/Core>
#include <Eigen/Eigenvalues>

#include <cmath>
#include <cstddef>
#include <random>
#include <vector>

using marginsim::detail::cholesky_lower;
using marginsim::detail::nearest_correlation;
using marginsim::detail::smallest_eigenvalue;

namespace {

using RowMajorMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

Eigen::MatrixXd to_eigen(const std::vector<double>& matrix, std::size_t n) {
    const auto size = static_cast<Eigen::Index>(n);
    return Eigen::Map<const RowMajorMatrix>(matrix.data(), size, size);
}

std::vector<double> to_row_major(const Eigen::MatrixXd& matrix) {
    const RowMajorMatrix row_major = matrix;
    return {row_major.data(), row_major.data() + row_major.size()};
}

double min_eigenvalue(const Eigen::MatrixXd& symmetric) {
    return Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(symmetric, Eigen::EigenvaluesOnly)
        .eigenvalues()(0);
}

// Symmetric, unit diagonal, off-diagonals uniform in [-1, 1], drawn until it is not PSD.
Eigen::MatrixXd random_invalid_correlation(std::size_t n, std::mt19937_64& rng) {
    std::uniform_real_distribution<double> entry(-1.0, 1.0);
    const auto size = static_cast<Eigen::Index>(n);
    Eigen::MatrixXd matrix = Eigen::MatrixXd::Identity(size, size);
    do {
        for (Eigen::Index i = 0; i < size; ++i) {
            for (Eigen::Index j = 0; j < i; ++j) {
                matrix(i, j) = matrix(j, i) = entry(rng);
            }
        }
    } while (min_eigenvalue(matrix) >= 0.0);
    return matrix;
}

Eigen::MatrixXd rescaled_to_unit_diagonal(const Eigen::MatrixXd& psd) {
    const Eigen::VectorXd inverse_sqrt = psd.diagonal().cwiseSqrt().cwiseInverse();
    return inverse_sqrt.asDiagonal() * psd * inverse_sqrt.asDiagonal();
}

// A valid correlation matrix of the given rank: normalised Gram matrix of random factors.
Eigen::MatrixXd random_correlation(std::size_t n, std::size_t rank, std::mt19937_64& rng) {
    std::normal_distribution<double> normal;
    Eigen::MatrixXd factors(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(rank));
    for (Eigen::Index i = 0; i < factors.size(); ++i) {
        factors(i) = normal(rng);
    }
    return rescaled_to_unit_diagonal(factors * factors.transpose());
}

// The simple repair: clip negative eigenvalues, rescale to unit diagonal. A feasible point.
Eigen::MatrixXd clip_and_rescale(const Eigen::MatrixXd& symmetric) {
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eigen(symmetric);
    const Eigen::VectorXd clipped = eigen.eigenvalues().cwiseMax(0.0);
    return rescaled_to_unit_diagonal(eigen.eigenvectors() * clipped.asDiagonal() *
                                     eigen.eigenvectors().transpose());
}

struct OptimalityResidual {
    double complementarity;  // ||Z X||_F
    double min_eigenvalue;   // of Z
};

// Higham (2002), theorem 2.4 (W = I): X is the nearest correlation matrix to A iff
// X - A = Z + diag(t) with Z PSD and Z X = 0. The off-diagonal of Z is that of X - A; its
// diagonal is fitted by least squares to Z X = 0, row by row.
OptimalityResidual optimality_residual(const Eigen::MatrixXd& input, const Eigen::MatrixXd& x) {
    Eigen::MatrixXd z = x - input;
    z.diagonal().setZero();
    const Eigen::MatrixXd off_diagonal_times_x = z * x;
    for (Eigen::Index i = 0; i < x.rows(); ++i) {
        z(i, i) = -off_diagonal_times_x.row(i).dot(x.row(i)) / x.row(i).squaredNorm();
    }
    return {(z * x).norm(), min_eigenvalue(z)};
}

void require_correlation_matrix(const Eigen::MatrixXd& x) {
    REQUIRE(min_eigenvalue(x) >= -1e-12);
    for (Eigen::Index i = 0; i < x.rows(); ++i) {
        REQUIRE(x(i, i) == 1.0);
        for (Eigen::Index j = 0; j < i; ++j) {
            REQUIRE(x(i, j) == x(j, i));
        }
    }
}

void require_reproduces(const std::vector<double>& matrix, std::size_t n) {
    const std::vector<double> lower = cholesky_lower(matrix, n);
    REQUIRE(lower.size() == n * n);
    const Eigen::MatrixXd l = to_eigen(lower, n);
    REQUIRE(l.allFinite());
    REQUIRE(l.isLowerTriangular(0.0));
    REQUIRE((l * l.transpose() - to_eigen(matrix, n)).cwiseAbs().maxCoeff() <= 1e-12);
}

}  // namespace

TEST_CASE("smallest eigenvalue of 2x2 correlation matrices is 1 - |r|") {
    for (const double r : {-0.99, -0.5, 0.0, 0.3, 0.8, 1.0}) {
        CAPTURE(r);
        REQUIRE(smallest_eigenvalue({1.0, r, r, 1.0}, 2) == Approx(1.0 - std::abs(r)).margin(1e-14));
    }
}

TEST_CASE("smallest eigenvalue of 3x3 equicorrelation is 1 - r for r > 0 and 1 + 2r for r < 0") {
    for (const double r : {-0.7, -0.45, -0.1, 0.2, 0.6, 0.95}) {
        CAPTURE(r);
        const double expected = r > 0.0 ? 1.0 - r : 1.0 + 2.0 * r;
        REQUIRE(smallest_eigenvalue({1.0, r, r, r, 1.0, r, r, r, 1.0}, 3) ==
                Approx(expected).margin(1e-14));
    }
}

TEST_CASE("nearest correlation matrix of Higham's 3x3 example") {
    // Higham (2002), section 4: A = [1 1 0; 1 1 1; 0 1 1] has nearest correlation matrix
    // with off-diagonals 0.7607 (1,2), (2,3) and 0.1573 (1,3).
    const std::vector<double> input{1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0};
    const auto nearest = nearest_correlation(input, 3);
    const Eigen::MatrixXd x = to_eigen(nearest.matrix, 3);

    require_correlation_matrix(x);
    REQUIRE(x(0, 1) == Approx(0.7607).margin(5e-5));
    REQUIRE(x(1, 2) == Approx(0.7607).margin(5e-5));
    REQUIRE(x(0, 2) == Approx(0.1573).margin(5e-5));
    REQUIRE(nearest.frobenius_distance == Approx((x - to_eigen(input, 3)).norm()).margin(1e-14));
    REQUIRE(nearest.iterations > 1);

    const auto residual = optimality_residual(to_eigen(input, 3), x);
    REQUIRE(residual.complementarity <= 1e-8);
    REQUIRE(residual.min_eigenvalue >= -1e-8);
}

TEST_CASE("nearest correlation matrix of random invalid matrices is optimal and valid") {
    std::mt19937_64 rng(20020501);
    for (std::size_t n = 3; n <= 10; ++n) {
        CAPTURE(n);
        const Eigen::MatrixXd input = random_invalid_correlation(n, rng);
        const auto nearest = nearest_correlation(to_row_major(input), n);
        const Eigen::MatrixXd x = to_eigen(nearest.matrix, n);

        require_correlation_matrix(x);
        REQUIRE(nearest.frobenius_distance == Approx((x - input).norm()).margin(1e-14));
        REQUIRE(nearest.frobenius_distance <= (clip_and_rescale(input) - input).norm() + 1e-12);

        const auto residual = optimality_residual(input, x);
        REQUIRE(residual.complementarity <= 1e-8);
        REQUIRE(residual.min_eigenvalue >= -1e-8);
    }
}

TEST_CASE("a valid correlation matrix is its own nearest correlation matrix") {
    std::mt19937_64 rng(7);
    for (std::size_t n = 3; n <= 10; ++n) {
        for (const std::size_t rank : {std::size_t{1}, n / 2, n + 2}) {
            CAPTURE(n, rank);
            const Eigen::MatrixXd input = random_correlation(n, rank, rng);
            const auto nearest = nearest_correlation(to_row_major(input), n);
            REQUIRE((to_eigen(nearest.matrix, n) - input).cwiseAbs().maxCoeff() <= 1e-10);
            REQUIRE(nearest.frobenius_distance <= 1e-10);
        }
    }
}

TEST_CASE("nearest correlation stops at max_iterations and still returns a correlation matrix") {
    const std::vector<double> input{1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0};
    const auto nearest = nearest_correlation(input, 3, 1e-10, 1);
    REQUIRE(nearest.iterations == 1);
    require_correlation_matrix(to_eigen(nearest.matrix, 3));
}

TEST_CASE("Cholesky factor of a positive definite matrix") {
    const std::vector<double> matrix{1.0, 0.81, 0.74, 0.81, 1.0, 0.72, 0.74, 0.72, 1.0};
    require_reproduces(matrix, 3);
    const Eigen::MatrixXd l = to_eigen(cholesky_lower(matrix, 3), 3);
    REQUIRE((l.diagonal().array() > 0.0).all());

    std::mt19937_64 rng(11);
    for (std::size_t n = 2; n <= 10; ++n) {
        CAPTURE(n);
        const std::vector<double> random = to_row_major(random_correlation(n, n + 3, rng));
        require_reproduces(random, n);
        REQUIRE((to_eigen(cholesky_lower(random, n), n).diagonal().array() > 0.0).all());
    }
}

TEST_CASE("Cholesky factor of singular PSD matrices") {
    SECTION("perfect correlation") { require_reproduces({1.0, 1.0, 1.0, 1.0}, 2); }
    SECTION("rank 2: rho12 = 1, rho13 = rho23 = 0.5") {
        require_reproduces({1.0, 1.0, 0.5, 1.0, 1.0, 0.5, 0.5, 0.5, 1.0}, 3);
    }
    SECTION("perfect anti-correlation inside a 3x3") {
        require_reproduces({1.0, -1.0, 0.3, -1.0, 1.0, -0.3, 0.3, -0.3, 1.0}, 3);
    }
    SECTION("repaired matrix with a zero eigenvalue") {
        const auto nearest =
            nearest_correlation({1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0}, 3);
        require_reproduces(nearest.matrix, 3);
    }
}
