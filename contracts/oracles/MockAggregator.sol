// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

import {AggregatorV3Interface} from "./interfaces/AggregatorV3Interface.sol";
import {IOracleErrors} from "./interfaces/IOracleErrors.sol";

/// @title MockAggregator
/// @notice A push feed: the owner (a keeper) writes each new answer, which opens a new round
///         stamped with the block time. Stands in for a Chainlink feed of an external price.
/// @dev Any answer is accepted, zero and negative included, so that consumers' handling of bad
///      prices can be exercised. Heartbeat and deviation rules live in the keeper, off-chain.
contract MockAggregator is AggregatorV3Interface, IOracleErrors, Ownable {
    struct Round {
        int256 answer;
        uint64 updatedAt;
    }

    /// @notice Chainlink's event for a new answer.
    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);

    /// @inheritdoc AggregatorV3Interface
    uint8 public immutable override decimals;
    /// @inheritdoc AggregatorV3Interface
    string public override description;
    /// @inheritdoc AggregatorV3Interface
    uint256 public constant override version = 1;

    /// @notice Id of the newest round (the first answer is round 1).
    uint80 public latestRound;
    mapping(uint80 roundId => Round) private _rounds;

    /// @param decimals_ Decimals of the answers (8 for USD prices).
    /// @param description_ E.g. "ALT / USD".
    /// @param initialAnswer The answer of round 1.
    constructor(uint8 decimals_, string memory description_, int256 initialAnswer) Ownable(msg.sender) {
        decimals = decimals_;
        description = description_;
        _setAnswer(initialAnswer);
    }

    /// @notice Opens a new round with `answer`, stamped with the current block time. Owner only.
    /// @param answer Price with `decimals()` decimals.
    function setAnswer(int256 answer) external onlyOwner {
        _setAnswer(answer);
    }

    /// @inheritdoc AggregatorV3Interface
    function getRoundData(uint80 roundId)
        external
        view
        returns (uint80, int256, uint256, uint256, uint80)
    {
        if (roundId == 0 || roundId > latestRound) revert RoundNotFound(roundId);
        return _roundData(roundId);
    }

    /// @inheritdoc AggregatorV3Interface
    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80) {
        return _roundData(latestRound);
    }

    /// @notice The newest answer (Chainlink's legacy getter).
    function latestAnswer() external view returns (int256) {
        return _rounds[latestRound].answer;
    }

    function _setAnswer(int256 answer) private {
        uint80 roundId = latestRound + 1;
        latestRound = roundId;
        _rounds[roundId] = Round({answer: answer, updatedAt: uint64(block.timestamp)});
        emit AnswerUpdated(answer, roundId, block.timestamp);
    }

    function _roundData(uint80 roundId) private view returns (uint80, int256, uint256, uint256, uint80) {
        Round memory round = _rounds[roundId];
        return (roundId, round.answer, round.updatedAt, round.updatedAt, roundId);
    }
}
