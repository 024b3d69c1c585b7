"""DeFi liquidation-cascade simulator: Python agents driving Solidity contracts on anvil through Ape."""
