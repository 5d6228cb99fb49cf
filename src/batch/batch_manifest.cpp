#include "batch/batch_manifest.hpp"

#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "marginsim/output.hpp"

namespace marginsim::detail {
namespace {

using nlohmann::json;

constexpr const char* format_name = "marginsim batch manifest";
constexpr int format_version = 1;
constexpr std::array<const char*, 3> report_keys{"csv", "html", "json"};

std::string hex(std::uint64_t hash) { return fmt::format("{:016x}", hash); }

std::uint64_t from_hex(const json& value) {
    const std::string text = value.get<std::string>();
    if (text.size() != 16 || text.find_first_not_of("0123456789abcdef") != std::string::npos)
        throw std::runtime_error("not a hash");
    return std::stoull(text, nullptr, 16);
}

BatchRecord record_from(const json& item) {
    BatchRecord record;
    record.inputs.scenario = item.at("scenario").get<std::string>();
    record.inputs.file_hash = from_hex(item.at("file_hash"));
    record.inputs.content_hash = from_hex(item.at("content_hash"));
    record.inputs.paths = item.at("paths").get<std::uint64_t>();
    record.inputs.seed = item.at("seed").get<std::uint64_t>();
    for (std::size_t k = 0; k < report_keys.size(); ++k) record.report_hashes[k] = from_hex(item.at(report_keys[k]));
    return record;
}

}  // namespace

BatchManifest BatchManifest::read(const std::filesystem::path& dir) {
    std::ifstream in(dir / batch_manifest_name, std::ios::binary);
    if (!in) return {};
    std::ostringstream text;
    text << in.rdbuf();
    BatchManifest manifest;
    try {
        const json root = json::parse(text.str());
        if (root.at("format") != format_name || root.at("version") != format_version) return {};
        for (const auto& [name, item] : root.at("reports").items()) manifest.records[name] = record_from(item);
    } catch (const std::exception&) {
        return {};  // damaged or foreign: everything runs again
    }
    return manifest;
}

void BatchManifest::write(const std::filesystem::path& dir) const {
    json reports = json::object();
    for (const auto& [name, record] : records) {
        json item{{"scenario", record.inputs.scenario},
                  {"file_hash", hex(record.inputs.file_hash)},
                  {"content_hash", hex(record.inputs.content_hash)},
                  {"paths", record.inputs.paths},
                  {"seed", record.inputs.seed}};
        for (std::size_t k = 0; k < report_keys.size(); ++k) item[report_keys[k]] = hex(record.report_hashes[k]);
        reports[name] = std::move(item);
    }
    const json root{{"format", format_name}, {"version", format_version}, {"reports", std::move(reports)}};
    write_file_atomically(dir / batch_manifest_name, root.dump(1) + "\n");
}

}  // namespace marginsim::detail
