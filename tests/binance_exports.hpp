#pragma once
// Hand-made Binance USDⓈ-M exports in the documented format (GET /fapi/v2/account,
// /fapi/v2/positionRisk, /fapi/v1/leverageBracket), and Binance's published liquidation-price
// formula written out independently of the engine, to compute the liquidationPrice they carry.
//
// "How to Calculate Liquidation Price of USDⓈ-M Futures Contracts" (Binance FAQ):
//   LP = (WB - TMM1 + UPNL1 + cumB + cumL + cumS - Side1BOTH x Position1BOTH x EP1BOTH
//         - Position1LONG x EP1LONG + Position1SHORT x EP1SHORT)
//        / (Position1BOTH x MMR_B + Position1LONG x MMR_L + Position1SHORT x MMR_S
//           - Side1BOTH x Position1BOTH - Position1LONG + Position1SHORT)
// WB the cross wallet (isolated: the position's isolated wallet, TMM1 = UPNL1 = 0), TMM1 and
// UPNL1 the maintenance margin and unrealised PnL of the other contracts at their marks; the
// MMR and cum are those of the bracket holding the notional at the liquidation price ("if your
// position calculated at the liquidation price and at the opening price are of different
// levels, substitute the level at the liquidation price"). Under cross margin the LONG and
// SHORT legs of one symbol share one liquidation price.

#include <charconv>
#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace marginsim::testing {

struct TestBracket {
    double cap = 0.0;
    double mmr = 0.0;
    double initial_leverage = 1.0;
    double floor = 0.0;  // set by with_cum
    double cum = 0.0;    // set by with_cum
};

// Binance's maintenance amount: cum_n = floor_n x (mmr_n - mmr_(n-1)) + cum_(n-1).
inline std::vector<TestBracket> with_cum(std::vector<TestBracket> brackets) {
    for (std::size_t k = 1; k < brackets.size(); ++k) {
        brackets[k].floor = brackets[k - 1].cap;
        const double cum = brackets[k].floor * (brackets[k].mmr - brackets[k - 1].mmr) + brackets[k - 1].cum;
        brackets[k].cum = std::round(cum * 1e8) / 1e8;  // Binance publishes cum in exact decimals
    }
    return brackets;
}

struct TestLeg {
    std::string symbol;
    std::string position_side = "BOTH";
    double amount = 0.0;  // positionAmt, signed
    double entry = 0.0;
    double mark = 0.0;
    double leverage = 10.0;
    bool isolated = false;
    double isolated_wallet = 0.0;
};

struct TestAccount {
    double wallet = 0.0;  // totalWalletBalance
    std::vector<TestLeg> legs;
    std::map<std::string, std::vector<TestBracket>> brackets;
};

inline std::string decimal(double value) {
    char buffer[64];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
    return std::string(buffer, result.ptr);
}

inline bool usdt(const TestLeg& leg) {
    return leg.symbol.size() > 4 && leg.symbol.compare(leg.symbol.size() - 4, 4, "USDT") == 0;
}

inline double cross_wallet(const TestAccount& account) {
    double wallet = account.wallet;
    for (const TestLeg& leg : account.legs) {
        if (leg.isolated && usdt(leg)) wallet -= leg.isolated_wallet;
    }
    return wallet;
}

inline const TestBracket& bracket_at(const std::vector<TestBracket>& brackets, double notional) {
    for (const TestBracket& b : brackets) {
        if (notional <= b.cap) return b;
    }
    return brackets.back();
}

// Binance's liquidation price of legs[j]; none when no positive price fits a bracket.
inline std::optional<double> binance_liquidation_price(const TestAccount& account, std::size_t j) {
    const TestLeg& leg = account.legs[j];
    if (leg.amount == 0.0 || !usdt(leg)) return std::nullopt;
    double wb = leg.isolated ? leg.isolated_wallet : cross_wallet(account);
    std::vector<const TestLeg*> own;  // the legs of contract 1
    for (const TestLeg& other : account.legs) {
        if (other.amount == 0.0 || !usdt(other)) continue;
        if (leg.isolated) continue;
        if (other.isolated) continue;
        if (other.symbol == leg.symbol) {
            own.push_back(&other);
            continue;
        }
        const double notional = std::abs(other.amount) * other.mark;
        const TestBracket& b = bracket_at(account.brackets.at(other.symbol), notional);
        wb += other.amount * (other.mark - other.entry) - (notional * b.mmr - b.cum);  // + UPNL1 - TMM1
    }
    if (leg.isolated) own.push_back(&leg);
    const std::vector<TestBracket>& brackets = account.brackets.at(leg.symbol);
    // Every choice of bracket per leg; kept where each leg's notional at LP lies in its bracket.
    std::optional<double> best;
    const std::size_t n = brackets.size();
    std::size_t combinations = 1;
    for (std::size_t k = 0; k < own.size(); ++k) combinations *= n;
    for (std::size_t c = 0; c < combinations; ++c) {
        double numerator = wb;
        double denominator = 0.0;
        std::vector<std::size_t> chosen;
        for (std::size_t k = 0, rest = c; k < own.size(); ++k, rest /= n) {
            const TestBracket& b = brackets[rest % n];
            chosen.push_back(rest % n);
            const double side = own[k]->amount > 0.0 ? 1.0 : -1.0;
            const double size = std::abs(own[k]->amount);
            numerator += b.cum - side * size * own[k]->entry;
            denominator += size * b.mmr - side * size;
        }
        if (denominator == 0.0) continue;
        const double lp = numerator / denominator;
        bool fits = lp > 0.0;
        for (std::size_t k = 0; k < own.size() && fits; ++k) {
            const double notional = std::abs(own[k]->amount) * lp;
            // A position above the last cap (brackets lowered under it) stays in the last bracket.
            fits = notional > brackets[chosen[k]].floor &&
                   (notional <= brackets[chosen[k]].cap || chosen[k] + 1 == n);
        }
        if (fits && (!best || std::abs(std::log(lp / leg.mark)) < std::abs(std::log(*best / leg.mark)))) best = lp;
    }
    return best;
}

inline std::string account_json(const TestAccount& account) {
    nlohmann::json j = {{"feeTier", 0}, {"canTrade", true}, {"multiAssetsMargin", false},
                        {"totalWalletBalance", decimal(account.wallet)},
                        {"totalCrossWalletBalance", decimal(cross_wallet(account))},
                        {"updateTime", 1765058400000},
                        {"assets", nlohmann::json::array({{{"asset", "USDT"},
                                                           {"walletBalance", decimal(account.wallet)}}})}};
    return j.dump(2);
}

// liquidationPrice from binance_liquidation_price, as Binance would export it.
inline std::string positions_json(const TestAccount& account) {
    nlohmann::json array = nlohmann::json::array();
    for (std::size_t j = 0; j < account.legs.size(); ++j) {
        const TestLeg& leg = account.legs[j];
        const std::optional<double> lp = binance_liquidation_price(account, j);
        array.push_back({{"symbol", leg.symbol}, {"positionAmt", decimal(leg.amount)},
                         {"entryPrice", decimal(leg.entry)}, {"markPrice", decimal(leg.mark)},
                         {"unRealizedProfit", decimal(leg.amount * (leg.mark - leg.entry))},
                         {"liquidationPrice", decimal(lp.value_or(0.0))},
                         {"leverage", decimal(leg.leverage)}, {"maxNotionalValue", "1000000"},
                         {"marginType", leg.isolated ? "isolated" : "cross"},
                         {"isolatedMargin", decimal(leg.isolated ? leg.isolated_wallet + leg.amount * (leg.mark - leg.entry) : 0.0)},
                         {"isAutoAddMargin", "false"}, {"positionSide", leg.position_side},
                         {"notional", decimal(leg.amount * leg.mark)},
                         {"isolatedWallet", decimal(leg.isolated ? leg.isolated_wallet : 0.0)},
                         {"updateTime", 1765058400000}});
    }
    return array.dump(2);
}

// Brackets as JSON numbers, as GET /fapi/v1/leverageBracket returns them.
inline std::string brackets_json(const TestAccount& account) {
    nlohmann::json array = nlohmann::json::array();
    for (const auto& [symbol, brackets] : account.brackets) {
        nlohmann::json list = nlohmann::json::array();
        for (std::size_t k = 0; k < brackets.size(); ++k) {
            const TestBracket& b = brackets[k];
            list.push_back({{"bracket", k + 1}, {"initialLeverage", b.initial_leverage},
                            {"notionalCap", b.cap}, {"notionalFloor", b.floor},
                            {"maintMarginRatio", b.mmr}, {"cum", b.cum}});
        }
        array.push_back({{"symbol", symbol}, {"brackets", list}});
    }
    return array.dump(2);
}

}  // namespace marginsim::testing
