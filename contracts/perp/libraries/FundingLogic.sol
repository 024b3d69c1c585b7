// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SignedMath} from "@openzeppelin/contracts/utils/math/SignedMath.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {PerpTypes} from "./PerpTypes.sol";
import {PricingLogic} from "./PricingLogic.sol";

/// @title FundingLogic
/// @notice Funding that accrues with elapsed time, and the basis EMA the median mark reads.
/// @dev Every entry point first accrues: the vAMM price read at the start of a call has held since
///      the previous call (the vAMM moves only through the exchange), so the premium of that
///      state is charged for the whole elapsed time. While the index holds, any split of a period
///      into accruals charges the same (up to rounding): a late keeper loses nothing, settling
///      early gains nothing, and a price pushed and pulled back within one block is charged for
///      zero seconds. An index move between two accruals is charged from the first of them (the
///      index of the moment is all the exchange sees), so keepers should accrue at least once per
///      oracle heartbeat.
///
///      The EMA step α = dt / (dt + τ) approximates 1 − e^(−dt/τ): exact for small steps, and two
///      steps move it a little further than one step of twice the length.
///
///      WHO PAYS. Longs pay shorts when the vAMM is above the index (and the reverse), through
///      the cumulative index each position settles when next touched. The insurance fund pays
///      or receives the imbalance between long and short open interest, so funding creates and
///      destroys nothing.
library FundingLogic {
    using SafeCast for uint256;
    using SafeCast for int256;

    uint256 private constant WAD = PerpTypes.WAD;

    /// @notice The rate per interval for a vAMM at `vammWad` and an index at `indexWad`:
    ///         clamp((vAMM − index) / index × factor, ±max), each step truncated toward zero.
    function rateWad(PerpTypes.MarketConfig storage c, uint256 vammWad, uint256 indexWad) internal view returns (int256 rate) {
        int256 index = indexWad.toInt256();
        int256 premiumWad = (vammWad.toInt256() - index) * int256(WAD) / index;
        rate = premiumWad * c.fundingFactorWad.toInt256() / int256(WAD);
        int256 maxRate = c.maxFundingRateWad.toInt256();
        if (rate > maxRate) rate = maxRate;
        if (rate < -maxRate) rate = -maxRate;
    }

    /// @notice What one accrual did: the time it covered, the rate per interval it applied and
    ///         the funding per unit of base it added (WAD, longs pay when > 0).
    struct Accrual {
        uint256 elapsedS;
        int256 rateWad;
        int256 paymentPerBaseWad;
    }

    /// @notice Brings `s` (a copy of the market's state) to `nowS`: the basis EMA steps, and with
    ///         funding configured, rate × index × elapsed / interval is added to the cumulative
    ///         funding per base.
    function accrue(PerpTypes.MarketConfig storage c, PerpTypes.MarketState memory s, uint256 indexWad, uint256 nowS)
        internal
        view
        returns (Accrual memory a)
    {
        if (nowS <= s.lastAccrualS) return a;
        a.elapsedS = nowS - s.lastAccrualS;
        uint256 vammWad = PricingLogic.vammPrice(s);
        s.basisEmaWad =
            PricingLogic.emaStep(s.basisEmaWad, vammWad.toInt256() - indexWad.toInt256(), a.elapsedS, c.markEmaTimeS);
        s.lastAccrualS = uint64(nowS);
        if (c.fundingIntervalS == 0) return a;
        a.rateWad = rateWad(c, vammWad, indexWad);
        a.paymentPerBaseWad = a.rateWad * indexWad.toInt256() * a.elapsedS.toInt256() / (WAD * c.fundingIntervalS).toInt256();
        s.cumulativeFundingWad += a.paymentPerBaseWad;
        s.lastFundingRateWad = a.rateWad;
    }

    /// @notice What the fund receives (> 0) or pays (< 0) for one payment per base: the long–short
    ///         imbalance × payment, rounded against the fund.
    function fundImbalance(PerpTypes.MarketState memory s, int256 paymentPerBaseWad, uint256 unit)
        internal
        pure
        returns (int256)
    {
        int256 netBase = s.longBase.toInt256() - s.shortBase.toInt256();
        bool fundReceives = (netBase > 0) == (paymentPerBaseWad > 0);
        uint256 net = productToCollateral(netBase, paymentPerBaseWad, unit, !fundReceives);
        return fundReceives ? net.toInt256() : -net.toInt256();
    }

    /// @notice Funding a position owes (> 0) or is owed (< 0) since it was last touched, rounded
    ///         against the trader.
    function owed(PerpTypes.MarketState memory s, PerpTypes.Position storage p, uint256 unit) internal view returns (int256) {
        int256 delta = s.cumulativeFundingWad - p.lastFundingIndex;
        bool pays = (p.sizeBase > 0) == (delta > 0);
        uint256 amount = productToCollateral(p.sizeBase, delta, unit, pays);
        return pays ? amount.toInt256() : -amount.toInt256();
    }

    /// @notice |a × b| / WAD in collateral units (a, b in WAD), in one rounding.
    function productToCollateral(int256 a, int256 b, uint256 unit, bool roundUp) internal pure returns (uint256) {
        return Math.mulDiv(
            SignedMath.abs(a) * unit, SignedMath.abs(b), WAD * WAD, roundUp ? Math.Rounding.Ceil : Math.Rounding.Floor
        );
    }
}
