#pragma once
// Moments of a sample, for the tests that check the engine's draws against the distribution
// they should follow (closed forms: unit variance, the input correlation, zero skew).

#include <cmath>
#include <cstddef>
#include <vector>

namespace sample_moments {

inline double mean(const std::vector<double>& x) {
    double s = 0.0;
    for (double v : x) s += v;
    return s / static_cast<double>(x.size());
}

// Pearson's sample correlation of two samples of the same size.
inline double correlation(const std::vector<double>& x, const std::vector<double>& y) {
    const double mx = mean(x), my = mean(y);
    double sxy = 0.0, sxx = 0.0, syy = 0.0;
    for (std::size_t k = 0; k < x.size(); ++k) {
        sxy += (x[k] - mx) * (y[k] - my);
        sxx += (x[k] - mx) * (x[k] - mx);
        syy += (y[k] - my) * (y[k] - my);
    }
    return sxy / std::sqrt(sxx * syy);
}

inline double central_moment(const std::vector<double>& x, int order) {
    const double m = mean(x);
    double s = 0.0;
    for (double v : x) s += std::pow(v - m, order);
    return s / static_cast<double>(x.size());
}

}  // namespace sample_moments
