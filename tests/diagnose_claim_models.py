"""Models for tests/test_diagnose_claims.py, in a file: torch.jit.script reads their source."""
import torch
from torch import nn


class TransposesFirst(nn.Module):
    """Takes (batch, time, features) and hands the time-first LSTM its input transposed."""

    def __init__(self):
        super().__init__()
        self.lstm, self.fc = nn.LSTM(6, 10), nn.Linear(10, 2)

    def forward(self, x):
        out, _ = self.lstm(x.transpose(0, 1))
        return self.fc(out[-1])


class BatchFirstLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm, self.fc = nn.LSTM(6, 10, batch_first=True), nn.Linear(10, 2)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.fc(out[:, -1])


class PoolsToFixedSize(nn.Module):
    """Floor pooling before a Linear: eager takes 32 and 33, not 34."""

    def __init__(self):
        super().__init__()
        self.conv, self.pool, self.fc = nn.Conv2d(3, 8, 3, padding=1), nn.MaxPool2d(2), nn.Linear(8 * 16 * 16, 2)

    def forward(self, x):
        return self.fc(self.pool(self.conv(x)).flatten(1))


class BatchOfOneOnly(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(12, 2)

    def forward(self, x):
        return self.fc(x.reshape(1, 12))


class OneNormInTraining(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc, self.norm = nn.Linear(4, 4), nn.BatchNorm1d(4)

    def forward(self, x):
        return self.norm(self.fc(x))


class DropsNothing(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc, self.drop = nn.Linear(4, 4), nn.Dropout(0.0)

    def forward(self, x):
        return self.drop(self.fc(x))


class KeepsHistory(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)
        self.history = []

    def forward(self, x):
        y = self.fc(x)
        self.history.append(y.detach())
        return y


class CachesOnce(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)
        self.scale = None

    def forward(self, x):
        if self.scale is None:
            self.scale = 2.0
        return self.fc(x) * 2.0


class CountsInABuffer(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)
        self.register_buffer("calls", torch.zeros(()))

    def forward(self, x):
        self.calls += 1
        return self.fc(x)
