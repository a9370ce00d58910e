"""SDP-class upper bounds on the l2 Lipschitz constant of ReLU MLPs (LipSDP-neuron and its solvers).

:mod:`~lipexact.bounds.sdp.lmi` builds the LipSDP-neuron matrix, :mod:`~lipexact.bounds.sdp.certify` proves
a bound from any multipliers (every value reported by an SDP solver here passes through it),
:mod:`~lipexact.bounds.sdp.lipsdp` solves the SDP with an interior-point solver (cvxpy + Clarabel) and
:mod:`~lipexact.bounds.sdp.first_order` with a first-order torch method.
"""
