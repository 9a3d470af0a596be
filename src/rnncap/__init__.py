"""rnncap: reproduce Collins, Sohl-Dickstein & Sussillo (ICLR 2017), "Capacity and
Trainability in Recurrent Neural Networks"."""

__version__ = "0.1.0"
