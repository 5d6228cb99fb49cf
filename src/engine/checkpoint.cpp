#include "marginsim/checkpoint.hpp"

#include <bit>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <type_traits>

#include <fmt/format.h>

#include "marginsim/error.hpp"
#include "marginsim/output.hpp"
#include "marginsim/report.hpp"

namespace marginsim {
namespace {

constexpr std::string_view magic = "MSIMCKPT";
constexpr std::uint32_t byte_order_mark = 0x01020304;

class Writer {
public:
    template <class T>
    void put(T value) {
        static_assert(std::is_trivially_copyable_v<T>);
        out_.append(reinterpret_cast<const char*>(&value), sizeof(T));
    }
    template <class T>
    void put_array(const std::vector<T>& values) {
        if (values.empty()) return;  // data() may be null
        out_.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
    }
    template <class T>
    void put_counted(const std::vector<T>& values) {
        put<std::uint64_t>(values.size());
        put_array(values);
    }
    void put_raw(std::string_view bytes) { out_.append(bytes); }
    std::string& str() { return out_; }

private:
    std::string out_;
};

class Reader {
public:
    Reader(std::string_view bytes, const std::string& source) : bytes_(bytes), source_(source) {}

    [[noreturn]] void fail(const std::string& message) const {
        throw InputError(source_, 0, 0, "", message, "a checkpoint written by this version of marginsim");
    }
    template <class T>
    T get() {
        T value;
        std::memcpy(&value, take(sizeof(T)), sizeof(T));
        return value;
    }
    // n values of T; n is checked against what is left before anything is allocated.
    template <class T>
    std::vector<T> get_array(std::uint64_t n) {
        if (n > (bytes_.size() - at_) / sizeof(T)) fail("truncated: an array runs past the end of the file");
        std::vector<T> values(static_cast<std::size_t>(n));
        if (!values.empty()) std::memcpy(values.data(), take(values.size() * sizeof(T)), values.size() * sizeof(T));
        return values;
    }
    template <class T>
    std::vector<T> get_counted() {
        return get_array<T>(get<std::uint64_t>());
    }
    std::string_view get_raw(std::size_t n) { return {take(n), n}; }
    std::size_t position() const noexcept { return at_; }
    std::size_t left() const noexcept { return bytes_.size() - at_; }

private:
    const char* take(std::size_t n) {
        if (n > bytes_.size() - at_) fail("truncated: the file ends early");
        const char* p = bytes_.data() + at_;
        at_ += n;
        return p;
    }
    std::string_view bytes_;
    const std::string& source_;
    std::size_t at_ = 0;
};

void put_key(Writer& out, const CheckpointKey& key) {
    out.put(key.scenario_hash);
    out.put(key.content_hash);
    out.put(key.seed);
    out.put(key.paths);
    out.put(key.block_size);
    out.put(key.steps);
    out.put(key.positions);
    out.put(key.precision);
    out.put(key.precision_relative);
}

CheckpointKey get_key(Reader& in) {
    CheckpointKey key;
    key.scenario_hash = in.get<std::uint64_t>();
    key.content_hash = in.get<std::uint64_t>();
    key.seed = in.get<std::uint64_t>();
    key.paths = in.get<std::uint64_t>();
    key.block_size = in.get<std::uint64_t>();
    key.steps = in.get<std::uint64_t>();
    key.positions = in.get<std::uint64_t>();
    key.precision = in.get<double>();
    key.precision_relative = in.get<std::uint8_t>();
    return key;
}

// The structure is consistent with its key, so that a resumed run can trust it.
void check_shape(const RunCheckpoint& c, const Reader& in) {
    const CheckpointKey& key = c.key;
    if (key.block_size == 0 || key.paths == 0) in.fail("zero paths or block size");
    const std::uint64_t block_count = key.paths / key.block_size + (key.paths % key.block_size != 0 ? 1 : 0);
    std::uint64_t paths = 0;
    for (std::size_t i = 0; i < c.blocks.size(); ++i) {
        const std::uint64_t b = c.blocks[i];
        if (b >= block_count || (i > 0 && b <= c.blocks[i - 1])) in.fail("completed blocks out of order or range");
        paths += std::min(key.block_size, key.paths - b * key.block_size);
    }
    if (paths != c.counts.paths) in.fail("the completed blocks do not add up to the paths counted");
    for (std::size_t m = 0; m < mode_count; ++m) {
        const CheckpointModeCounts& mode = c.counts.modes[m];
        if (mode.liquidations_by_step.size() > key.steps + 1 || mode.position_liquidations.size() != key.positions)
            in.fail("counts of the wrong size");
    }
}

}  // namespace

std::uint64_t fnv1a_hash(std::string_view bytes) noexcept {
    std::uint64_t hash = 0xcbf29ce484222325ull;
    for (const char c : bytes) {
        hash ^= static_cast<unsigned char>(c);
        hash *= 0x100000001b3ull;
    }
    return hash;
}

std::uint64_t file_hash(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(fmt::format("cannot read '{}'", path.string()));
    std::ostringstream text;
    text << in.rdbuf();
    return fnv1a_hash(text.view());
}

namespace {

// Values as bytes (integers little-endian, doubles by their bit patterns, texts after their
// length), hashed by fnv1a_hash.
class ContentHash {
public:
    ContentHash& add(std::string_view text) {
        add(static_cast<std::uint64_t>(text.size()));
        bytes_.append(text);
        return *this;
    }
    ContentHash& add(double value) { return add(std::bit_cast<std::uint64_t>(value)); }
    ContentHash& add(std::uint64_t value) {
        for (int b = 0; b < 64; b += 8) bytes_.push_back(static_cast<char>(value >> b));
        return *this;
    }
    ContentHash& add(const std::vector<double>& values) {
        add(static_cast<std::uint64_t>(values.size()));
        for (const double v : values) add(v);
        return *this;
    }
    template <class Enum>
        requires std::is_enum_v<Enum>
    ContentHash& add(Enum value) {
        return add(static_cast<std::uint64_t>(static_cast<std::int64_t>(value)));
    }
    std::uint64_t value() const noexcept { return fnv1a_hash(bytes_); }

private:
    std::string bytes_;
};

}  // namespace

std::uint64_t scenario_content_hash(const Scenario& s) {
    ContentHash h;
    const Simulation& sim = s.simulation;
    h.add(sim.horizon_days).add(static_cast<std::uint64_t>(sim.steps_per_day)).add(sim.model).add(sim.dof).add(sim.monitoring);
    // Added only when used: the hashes (checkpoints, batch freshness) of plain runs stay as they were.
    if (sim.importance_sampling != ImportanceSampling::none) h.add(sim.importance_sampling);
    h.add(s.balance).add(s.policy).add(s.fee_rate);
    // --set overrides: the reports name them (absent, the hashes of plain loads stay as they were).
    for (const std::string& given : s.overrides) h.add(std::string_view(given));
    h.add(static_cast<std::uint64_t>(s.assets.size()));
    for (const Asset& a : s.assets) {
        h.add(a.symbol).add(a.price).add(a.volatility).add(a.drift).add(a.funding_rate);
        h.add(static_cast<std::uint64_t>(a.tiers.size()));
        for (const Tier& t : a.tiers) h.add(t.notional_cap).add(t.rate).add(t.amount).add(t.max_leverage.value_or(0.0));
    }
    h.add(s.correlation);
    h.add(static_cast<std::uint64_t>(s.positions.size()));
    for (const Position& p : s.positions)
        h.add(static_cast<std::uint64_t>(p.asset)).add(p.side).add(p.margin).add(p.leverage).add(p.quantity)
            .add(p.entry_price).add(p.mode);
    h.add(s.jumps.intensity).add(s.jumps.idiosyncratic_intensity);
    for (const auto* sizes : {&s.jumps.market, &s.jumps.idiosyncratic}) {
        h.add(static_cast<std::uint64_t>(sizes->size()));
        for (const JumpSize& j : *sizes) h.add(j.mean).add(j.vol);
    }
    const Regimes& r = s.regimes;
    h.add(r.calm_to_stress).add(r.stress_to_calm).add(r.start).add(r.stress_volatility).add(r.stress_correlation);
    // Added only when used (jumps on another model than "jump", regimes with their own
    // innovations or jump switch): the hashes of the earlier models stay as they were.
    if (sim.jumps && sim.model != PriceModel::jump) h.add(std::string_view("jumps"));
    for (std::size_t k = 0; k < r.states.size(); ++k) {
        const RegimeState& state = r.states[k];
        if (state.innovations != Innovations::gaussian || (sim.jumps && !state.jumps))
            h.add(static_cast<std::uint64_t>(k)).add(state.innovations).add(state.dof)
                .add(static_cast<std::uint64_t>(state.jumps));
    }
    // Added only for the garch model: the hashes of the other models stay as they were.
    if (sim.model == PriceModel::garch) {
        h.add(s.garch.innovations);
        for (const GarchParameters& g : s.garch.assets) h.add(g.omega).add(g.alpha).add(g.beta);
    }
    if (sim.model == PriceModel::fhs) {
        h.add(s.fhs.filter);
        for (const GarchParameters& g : s.fhs.assets) h.add(g.omega).add(g.alpha).add(g.beta);
        for (const std::string& date : s.fhs.dates) h.add(std::string_view(date));
        h.add(s.fhs.residuals);
    }
    if (s.uncertainty.on()) h.add(std::string_view("uncertainty")).add(s.uncertainty.returns);
    return h.value();
}

std::string checkpoint_bytes(const RunCheckpoint& c) {
    Writer out;
    out.put_raw(magic);
    out.put(checkpoint_version);
    out.put(byte_order_mark);
    put_key(out, c.key);
    out.put(c.elapsed_s);
    out.put<std::uint64_t>(c.blocks.size());
    for (std::size_t i = 0; i < c.blocks.size(); ++i) {
        out.put(c.blocks[i]);
        for (const double f : c.funding[i]) out.put(f);
    }
    out.put(c.counts.paths);
    out.put(c.counts.cross_loss_exceeds_isolated);
    out.put(c.counts.contagion);
    out.put(c.counts.overflowed_paths);
    for (const CheckpointModeCounts& mode : c.counts.modes) {
        out.put(mode.liquidated_paths);
        out.put(mode.contagion);
        out.put_counted(mode.liquidations_by_step);
        out.put_counted(mode.position_liquidations);
    }
    out.put_counted(c.counts.weighted);
    for (std::size_t m = 0; m < mode_count; ++m) {
        out.put_array(c.loss[m]);
        out.put_array(c.drawdown[m]);
    }
    out.put_counted(c.weight);
    out.put(fnv1a_hash(out.str()));
    return std::move(out.str());
}

RunCheckpoint parse_checkpoint(std::string_view bytes, const std::string& source) {
    Reader in(bytes, source);
    if (bytes.size() < magic.size() + sizeof(std::uint64_t) || in.get_raw(magic.size()) != magic)
        in.fail("not a marginsim checkpoint");
    const std::string_view body = bytes.substr(0, bytes.size() - sizeof(std::uint64_t));
    std::uint64_t stored_hash = 0;
    std::memcpy(&stored_hash, bytes.data() + body.size(), sizeof(stored_hash));
    if (const auto version = in.get<std::uint32_t>(); version != checkpoint_version)
        in.fail(fmt::format("checkpoint format version {}, this program reads version {}", version,
                            checkpoint_version));
    if (in.get<std::uint32_t>() != byte_order_mark) in.fail("written on a machine of another byte order");
    if (fnv1a_hash(body) != stored_hash) in.fail("corrupted or truncated: its checksum does not match");

    RunCheckpoint c;
    c.key = get_key(in);
    c.elapsed_s = in.get<double>();
    const auto blocks = in.get<std::uint64_t>();
    if (blocks > in.left() / (sizeof(std::uint64_t) + mode_count * sizeof(double))) in.fail("truncated block list");
    c.blocks.reserve(static_cast<std::size_t>(blocks));
    c.funding.reserve(static_cast<std::size_t>(blocks));
    for (std::uint64_t i = 0; i < blocks; ++i) {
        c.blocks.push_back(in.get<std::uint64_t>());
        std::array<double, mode_count> funding{};
        for (double& f : funding) f = in.get<double>();
        c.funding.push_back(funding);
    }
    c.counts.paths = in.get<std::uint64_t>();
    c.counts.cross_loss_exceeds_isolated = in.get<std::uint64_t>();
    c.counts.contagion = in.get<std::uint64_t>();
    c.counts.overflowed_paths = in.get<std::uint64_t>();
    for (CheckpointModeCounts& mode : c.counts.modes) {
        mode.liquidated_paths = in.get<std::uint64_t>();
        mode.contagion = in.get<std::uint64_t>();
        mode.liquidations_by_step = in.get_counted<std::uint64_t>();
        mode.position_liquidations = in.get_counted<std::uint64_t>();
    }
    c.counts.weighted = in.get_counted<std::uint64_t>();
    for (std::size_t m = 0; m < mode_count; ++m) {
        c.loss[m] = in.get_array<double>(c.counts.paths);
        c.drawdown[m] = in.get_array<float>(c.counts.paths);
    }
    c.weight = in.get_counted<double>();
    if (!c.weight.empty() && c.weight.size() != c.counts.paths) in.fail("the weights do not match the paths");
    if (in.position() != body.size()) in.fail("unexpected bytes after the samples");
    check_shape(c, in);
    return c;
}

void write_checkpoint(const std::filesystem::path& path, const RunCheckpoint& checkpoint) {
    write_file_atomically(path, checkpoint_bytes(checkpoint));
}

RunCheckpoint read_checkpoint(const std::filesystem::path& path, const CheckpointKey& expected) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw InputError(path.string(), 0, 0, "", "no checkpoint to resume from (no such file)",
                         "the checkpoint an interrupted run of the same command wrote");
    }
    std::ostringstream bytes;
    bytes << in.rdbuf();
    RunCheckpoint c = parse_checkpoint(bytes.view(), path.string());
    const auto refuse = [&](std::string_view what, std::uint64_t was, std::uint64_t now) {
        throw InputError(path.string(), 0, 0, "",
                         fmt::format("this checkpoint was made with {} {}, this run has {}: it belongs to another "
                                     "run and is not resumed",
                                     what, was, now),
                         "the same scenario file, seed and paths as the interrupted run, or a run without --resume");
    };
    const CheckpointKey& k = c.key;
    if (k.scenario_hash != expected.scenario_hash) {
        throw InputError(path.string(), 0, 0, "",
                         "the scenario file changed since this checkpoint was written (its content hash differs): "
                         "it is not resumed",
                         "the unchanged scenario file, or a run without --resume");
    }
    if (k.content_hash != expected.content_hash) {
        throw InputError(path.string(), 0, 0, "",
                         "the scenario as loaded changed since this checkpoint was written (a tier table it "
                         "refers to, or the --tiers-dir it was read from): it is not resumed",
                         "the same tier tables as the interrupted run, or a run without --resume");
    }
    if (k.seed != expected.seed) refuse("seed", k.seed, expected.seed);
    if (k.paths != expected.paths) refuse("paths", k.paths, expected.paths);
    if (k.block_size != expected.block_size) refuse("block size", k.block_size, expected.block_size);
    if (k.steps != expected.steps) refuse("steps", k.steps, expected.steps);
    if (k.positions != expected.positions) refuse("positions", k.positions, expected.positions);
    if (k.precision != expected.precision || k.precision_relative != expected.precision_relative) {
        const auto precision_of = [](const CheckpointKey& key) {
            return key.precision == 0.0 ? std::string("no --precision")
                                        : "--precision " + to_string(Precision{key.precision, key.precision_relative != 0});
        };
        throw InputError(path.string(), 0, 0, "",
                         fmt::format("this checkpoint was made with {}, this run has {}: it belongs to another run "
                                     "and is not resumed",
                                     precision_of(k), precision_of(expected)),
                         "the same --precision as the interrupted run, or a run without --resume");
    }
    return c;
}

}  // namespace marginsim
