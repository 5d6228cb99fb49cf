// From Binance exports to the book a scenario holds. The cross wallet is what Binance's cross
// liquidation formula calls WB: the wallet balance less the isolated wallets. A cross
// position's scenario margin is its initial margin at entry (size x entry / leverage): it does
// not move a cross liquidation price, it is the collateral the hypothetical isolated mode gives it.

#include "importers/imported_book.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "marginsim/error.hpp"

namespace marginsim::importers {

namespace {

constexpr std::string_view quote = "USDT";

std::string position_path(const BinancePosition& p, const char* field) {
    return fmt::format("positions[{}].{}", p.index, field);
}

std::string side_name(PositionSide side) {
    switch (side) {
        case PositionSide::long_leg: return "LONG";
        case PositionSide::short_leg: return "SHORT";
        case PositionSide::both: break;
    }
    return "BOTH";
}

// USDT-quoted perpetuals only: BTCUSDT -> BTC; empty for anything else.
std::string asset_of(const std::string& symbol) {
    if (symbol.size() <= quote.size() || !symbol.ends_with(quote)) return {};
    return symbol.substr(0, symbol.size() - quote.size());
}

void note_time(ImportedBook& book, std::optional<long long> time) {
    if (time && (!book.exported_at || *time > *book.exported_at)) book.exported_at = time;
}

std::size_t asset_index(ImportedBook& book, const BinancePosition& p, const std::string& asset,
                        const BinanceBrackets& brackets, const std::string& positions_file,
                        const std::string& brackets_file) {
    for (std::size_t i = 0; i < book.assets.size(); ++i) {
        if (book.assets[i].exchange_symbol != p.symbol) continue;
        if (book.assets[i].mark_price != p.mark_price) {
            throw InputError(positions_file, 0, 0, position_path(p, "markPrice"),
                             fmt::format("{} differs from the mark {} of another {} leg", p.mark_price,
                                         book.assets[i].mark_price, p.symbol),
                             "one mark price per symbol, as in one positionRisk export");
        }
        return i;
    }
    const auto found = brackets.find(p.symbol);
    if (found == brackets.end()) {
        throw InputError(brackets_file, 0, 0, "brackets",
                         fmt::format("no brackets for {} ({})", p.symbol, position_path(p, "symbol")),
                         fmt::format("an entry {{\"symbol\": \"{}\", \"brackets\": [...]}} from GET "
                                     "/fapi/v1/leverageBracket",
                                     p.symbol));
    }
    book.assets.push_back({asset, p.symbol, p.mark_price, found->second, {}, {}});
    return book.assets.size() - 1;
}

void set_cross_margins(ImportedBook& book, const std::string& account_file) {
    double initial = 0.0;
    std::size_t cross = 0;
    for (const BookPosition& p : book.positions) {
        if (p.isolated) continue;
        initial += p.margin;
        ++cross;
    }
    if (cross == 0) return;
    if (book.cross_wallet <= 0.0) {
        throw InputError(account_file, 0, 0, "totalWalletBalance",
                         fmt::format("{} less the isolated wallets leaves a cross wallet of {} for {} "
                                     "cross position{}",
                                     book.balance, book.cross_wallet, cross, cross == 1 ? "" : "s"),
                         "a positive cross wallet (totalWalletBalance above the sum of isolatedWallet)");
    }
    if (initial <= book.cross_wallet) return;
    // A hair under the wallet, so that rounding never puts the margins above the balance.
    book.cross_margin_scale = book.cross_wallet / initial * (1.0 - 1e-9);
    for (BookPosition& p : book.positions) {
        if (!p.isolated) p.margin *= book.cross_margin_scale;
    }
    book.warnings.push_back(fmt::format(
        "the cross positions' initial margins ({:.2f}) exceed the cross wallet ({:.2f}): they are "
        "scaled by {:.6f} to fit the balance; cross liquidation prices do not depend on them, "
        "the hypothetical isolated mode does",
        initial, book.cross_wallet, book.cross_margin_scale));
}

const BinanceBracket& bracket_at(const std::vector<BinanceBracket>& brackets, double notional) {
    for (const BinanceBracket& b : brackets) {
        if (notional <= b.notional_cap) return b;
    }
    return brackets.back();
}

// What the scenario's tier checks would refuse in an account Binance holds as it is.
void relax_tier_limits(ImportedBook& book) {
    for (const BookPosition& p : book.positions) {
        BookAsset& asset = book.assets[p.asset];
        const double notional = p.quantity * p.entry_price;
        const double leverage = notional / p.margin;
        if (asset.last_cap_dropped.empty() && notional > asset.brackets.back().notional_cap) {
            asset.last_cap_dropped = fmt::format(
                "positions[{}] has a notional of {:.2f} at entry, above the last notionalCap {}",
                p.export_index, notional, asset.brackets.back().notional_cap);
        }
        const double allowed = bracket_at(asset.brackets, notional).initial_leverage;
        if (asset.max_leverage_dropped.empty() && leverage > allowed + 1e-12) {
            asset.max_leverage_dropped = fmt::format(
                "positions[{}] holds leverage {:.4g} (notional at entry / margin), above the "
                "initialLeverage {} of the bracket of its notional at entry",
                p.export_index, leverage, allowed);
        }
    }
    for (const BookAsset& asset : book.assets) {
        if (!asset.max_leverage_dropped.empty()) {
            book.warnings.push_back(fmt::format("{}: tiers written without max_leverage: {}", asset.exchange_symbol,
                                                asset.max_leverage_dropped));
        }
        if (!asset.last_cap_dropped.empty()) {
            book.warnings.push_back(fmt::format("{}: last tier written without its cap: {}", asset.exchange_symbol,
                                                asset.last_cap_dropped));
        }
    }
}

}  // namespace

ImportedBook build_binance_book(const BinanceAccount& account,
                                const std::vector<BinancePosition>& positions,
                                const BinanceBrackets& brackets, const std::string& account_file,
                                const std::string& positions_file, const std::string& brackets_file) {
    ImportedBook book;
    book.balance = account.total_wallet_balance;
    note_time(book, account.update_time);
    if (account.multi_assets_margin) {
        book.warnings.push_back(
            "the account is in Multi-Assets mode: totalWalletBalance values every margin asset in "
            "USD, and marginsim models it as one USDT wallet at today's values");
    }
    double isolated_wallets = 0.0;
    for (const BinancePosition& p : positions) {
        note_time(book, p.update_time);
        if (p.amount == 0.0) {
            book.skipped.push_back(fmt::format("positions[{}] {} {}: positionAmt 0, no open position",
                                               p.index, p.symbol, side_name(p.side)));
            continue;
        }
        const std::string asset = asset_of(p.symbol);
        if (asset.empty()) {
            book.skipped.push_back(fmt::format(
                "positions[{}] {}: not a USDT-margined perpetual; its margin is not in the USDT "
                "wallet the scenario models",
                p.index, p.symbol));
            continue;
        }
        BookPosition out;
        out.export_index = p.index;
        out.asset = asset_index(book, p, asset, brackets, positions_file, brackets_file);
        out.position_side = side_name(p.side);
        out.is_long = p.amount > 0.0;
        out.quantity = std::abs(p.amount);
        out.entry_price = p.entry_price;
        out.exchange_leverage = p.leverage;
        out.isolated = p.isolated;
        out.margin = p.isolated ? p.isolated_wallet : out.quantity * p.entry_price / p.leverage;
        out.exchange_liquidation_price = p.liquidation_price;
        if (p.isolated) isolated_wallets += p.isolated_wallet;
        book.positions.push_back(out);
    }
    if (book.positions.empty()) {
        throw InputError(positions_file, 0, 0, "positions", "no open USDT-margined position",
                         "at least one position with a positionAmt other than 0");
    }
    book.cross_wallet = book.balance - isolated_wallets;
    if (book.cross_wallet < 0.0) {
        throw InputError(account_file, 0, 0, "totalWalletBalance",
                         fmt::format("{} is below the isolated wallets of the positions ({})",
                                     book.balance, isolated_wallets),
                         "the futures wallet balance, isolated wallets included");
    }
    if (account.total_cross_wallet_balance &&
        std::abs(*account.total_cross_wallet_balance - book.cross_wallet) > 0.01) {
        book.warnings.push_back(fmt::format(
            "totalCrossWalletBalance is {} but totalWalletBalance less the isolated wallets is {}: "
            "the scenario uses the latter; were the exports taken at the same moment?",
            *account.total_cross_wallet_balance, book.cross_wallet));
    }
    set_cross_margins(book, account_file);
    relax_tier_limits(book);
    return book;
}

}  // namespace marginsim::importers
