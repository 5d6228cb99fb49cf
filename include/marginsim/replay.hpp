#pragma once
// Replays of a book through daily bars that really happened (docs/stress.md): today's positions,
// margins and modes taken through the daily returns of a past window, each asset's price path
// scaled to today's price, P_i(d) = P_i(0) * close_i(D + d) / close_i(D - 1), D the first
// replayed date (its own move counts). Two outcomes per account mode: on the daily closes, and
// at the adverse intraday extremes (lows for longs, highs for shorts, all at one instant); the
// true intraday outcome lies between the two. The margin rules are the engine's own
// (MarginBook: pools, tiers, maintenance margin, liquidation rule, liquidation cost).
// Pipeline: read_history -> daily_bars -> replay / realised_flags.

#include <array>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "marginsim/calibrate.hpp"
#include "marginsim/scenario.hpp"

namespace marginsim {

// The daily bars of a book's assets on the dates all of them have, ascending.
struct DailyBars {
    std::vector<std::string> symbols;  // per asset, in the book's asset order
    std::vector<std::string> sources;  // the file of each
    std::vector<bool> has_extremes;    // the file has High and Low columns
    std::vector<Date> dates;
    // [asset][k]. Without an Open column the open is the previous close (crypto trades around
    // the clock: the day opens where the last one closed); without High/Low the extremes are
    // the close.
    std::vector<std::vector<double>> open, high, low, close;

    std::size_t asset_count() const noexcept { return symbols.size(); }
    std::size_t day_count() const noexcept { return dates.size(); }
    // The k-th date exists, and the dates from k - 1 to k + days - 1 are consecutive calendar
    // days: a window starting at k (closes of k - 1 as reference) that misses no day.
    bool window_complete(std::size_t k, int days) const noexcept;
};

// Aligns series (one per asset, in the book's order) on the dates all of them have. Throws
// InputError when they share no date.
DailyBars daily_bars(const std::vector<PriceSeries>& series);

// The price file of each asset of the book in `dir`: the one file whose name gives the asset's
// symbol (symbol_from_file_name: Binance_BTCUSDT_d.csv and BTC.csv both give BTC), read with
// read_price_csv. Throws InputError naming the asset and the directory when there is none (or
// more than one), or when the directory does not exist.
std::vector<PriceSeries> read_history(const Scenario& book, const std::filesystem::path& dir);

// A window of days to replay.
struct ReplayWindow {
    std::string name;         // its catalogue name, or the date as given
    Date start;               // D, the first replayed day
    int days = 0;             // D .. D + days - 1
    std::string description;  // what happened (catalogue windows), else empty
};

// The bundled catalogue of named crash windows, oldest first (docs/stress.md#the-catalogue).
const std::vector<ReplayWindow>& replay_catalogue();

// `--replay` values: a catalogue name, "all" (the whole catalogue) or a date YYYY-MM-DD.
// `days` overrides every window's day count; a date's default is `default_days`. Throws
// InputError naming `--replay VALUE` for anything else.
std::vector<ReplayWindow> replay_windows(const std::vector<std::string>& requests, std::optional<int> days,
                                         int default_days);

// Throws InputError naming the asset, its file and the date when some asset has no bar for a
// day of the window or for the day before it (the reference close): outside its history, or a
// day missing from its file.
void check_window(const std::vector<PriceSeries>& series, const ReplayWindow& window);

enum class ReplayBasis { closes, extremes };
inline constexpr std::array<ReplayBasis, 2> all_bases{ReplayBasis::closes, ReplayBasis::extremes};
std::string_view to_string(ReplayBasis basis) noexcept;

// What happened to one position in one account mode.
struct PositionOutcome {
    std::size_t position = 0;  // index into Scenario::positions
    std::string symbol;
    Side side = Side::long_side;
    MarginMode pool = MarginMode::isolated;  // its pool in this mode: isolated or cross
    // Its liquidation price at the start, other prices held (as `marginsim liq` shows it).
    std::optional<double> liquidation_price;
    bool liquidated = false;
    int day = 0;  // liquidated on day `day` (1 = the first replayed day; 0 = at the start)
    std::optional<Date> date;  // of that day; empty at the start or when not liquidated
    // Its asset's price where its pool closed: the close (closes), the price at which the
    // pool's margin balance meets its maintenance margin, for one asset its liquidation price
    // (extremes), the day's open when it opened beyond that (gapped); the last close when it
    // was not liquidated.
    double price = 0.0;
    bool gapped = false;
    double pool_loss = 0.0;  // of its pool, shared by a cross pool's positions
};

struct ModeOutcome {
    MarginMode mode = MarginMode::isolated;
    std::vector<PositionOutcome> positions;  // in position order
    double loss = 0.0;          // fall of the account's equity from the start, by the last day
    double at_risk = 0.0;       // the most it can lose: the pools' start equities (>= 0)
    double funding_paid = 0.0;  // negative: received
    std::size_t liquidated_count() const noexcept;
    // The first day a pool of the mode was liquidated (0 = at the start); empty if none was.
    std::optional<int> first_day() const noexcept;
};

struct BasisOutcome {
    ReplayBasis basis = ReplayBasis::closes;
    std::array<ModeOutcome, mode_count> modes;
};

// How one asset moved over the window, from the reference close.
struct AssetMove {
    std::string symbol;
    std::string source;
    double reference_close = 0.0;  // in the file, at D - 1
    double close_return = 0.0;     // last close / reference - 1
    double worst_low = 0.0;        // lowest low / reference - 1
    int worst_low_day = 0;
    double best_high = 0.0;  // highest high / reference - 1
    int best_high_day = 0;
    bool has_extremes = false;
};

struct Replay {
    ReplayWindow window;
    Date reference_date;      // D - 1
    std::vector<Date> dates;  // the replayed days
    std::vector<AssetMove> assets;
    std::array<BasisOutcome, all_bases.size()> outcomes;  // in all_bases order
    std::vector<std::string> notes;

    const BasisOutcome& outcome(ReplayBasis basis) const noexcept {
        return outcomes[static_cast<std::size_t>(basis)];
    }
};

// The book through the window starting at bars.dates[start] for `days` days. Throws
// InputError (naming no file: the bars are aligned) when the window is not complete
// (DailyBars::window_complete), and std::invalid_argument when the bars' symbols are not the
// book's assets in order.
Replay replay(const Scenario& book, const DailyBars& bars, std::size_t start, int days);

// The realised outcomes of issue 18 point 5 over a window: some position of the isolated mode
// liquidated at the lows/highs, or on the closes; the cross mode's pool liquidated with every
// asset at its adverse extreme of the same day, or at the closes.
struct RealisedFlags {
    bool isolated_any_low = false;
    bool isolated_any_close = false;
    bool cross_low = false;
    bool cross_close = false;
};

// The flags of the window starting at bars.dates[start] over `horizon_days` daily bars; empty
// when the window is not complete (a missing day, or past the bars' ends).
std::optional<RealisedFlags> realised_flags(const Scenario& book, const DailyBars& bars, std::size_t start,
                                            int horizon_days);

}  // namespace marginsim
