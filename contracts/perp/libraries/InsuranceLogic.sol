// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IPerpEvents} from "../interfaces/IPerpEvents.sol";
import {PerpTypes} from "./PerpTypes.sol";

/// @title InsuranceLogic
/// @notice The exchange's own money: the insurance fund, bad debt, and credits owed to traders.
/// @dev The fund never goes negative: it pays what it has, and what it cannot pay of a loss is bad
///      debt (the exchange then owes more than it holds). Credits are owed collateral a trader
///      pulls with `withdrawCredit`; ADL pays its counterparties this way, so no transfer to an
///      arbitrary address happens inside a liquidation.
library InsuranceLogic {
    using SafeCast for uint256;
    using SafeCast for int256;

    /// @notice Adds `change` (may be negative, never below zero) to the fund.
    function change(PerpTypes.Vault storage v, int256 amount) internal {
        if (amount == 0) return;
        v.insuranceFund = (v.insuranceFund.toInt256() + amount).toUint256();
        emit IPerpEvents.InsuranceFundChanged(amount, v.insuranceFund);
    }

    /// @notice The fund pays what it can of a loss of `amount`; the rest becomes bad debt of
    ///         `trader`'s position. Returns what the fund paid.
    function coverLoss(PerpTypes.Vault storage v, uint256 marketId, address trader, uint256 amount)
        internal
        returns (uint256 paid)
    {
        paid = Math.min(amount, v.insuranceFund);
        change(v, -paid.toInt256());
        if (amount > paid) {
            v.badDebt += amount - paid;
            emit IPerpEvents.BadDebtRecorded(marketId, trader, amount - paid, v.badDebt);
        }
    }

    /// @notice The fund's part of a liquidator fee: at most `due`, `capUsdc` and what the fund holds.
    ///         Not yet taken out (the caller does, with `change`).
    function feeFromFund(PerpTypes.Vault storage v, uint256 due, uint256 capUsdc) internal view returns (uint256) {
        return Math.min(Math.min(due, capUsdc), v.insuranceFund);
    }

    /// @notice Owes `trader` `amount` more collateral.
    function credit(PerpTypes.Vault storage v, address trader, uint256 amount) internal {
        if (amount == 0) return;
        v.credits[trader] += amount;
        v.totalCredits += amount;
        emit IPerpEvents.CreditChanged(trader, amount.toInt256(), v.credits[trader]);
    }

    /// @notice Clears `trader`'s credit; returns it for the caller to transfer.
    function takeCredit(PerpTypes.Vault storage v, address trader) internal returns (uint256 amount) {
        amount = v.credits[trader];
        if (amount == 0) return 0;
        v.credits[trader] = 0;
        v.totalCredits -= amount;
        emit IPerpEvents.CreditChanged(trader, -amount.toInt256(), 0);
    }
}
