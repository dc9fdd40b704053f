"""The English base corpus: what a base voice speaks to learn a reference's conversion (nearest pairs,
base F0) and what calibrates the int8 vocoder. Plain, phonetically varied read speech."""

PASSAGES = [
    "The quick brown fox jumps over the lazy dog. I like to walk in the park on sunny days with my "
    "friends, and we often stop for coffee at the little shop near the river.",
    "Please call Stella. Ask her to bring these things with her from the store: six spoons of fresh "
    "snow peas, five thick slabs of blue cheese, and maybe a snack for her brother Bob.",
    "When the sunlight strikes raindrops in the air, they act as a prism and form a rainbow. The "
    "rainbow is a division of white light into many beautiful colors.",
    "Our team met on Tuesday to plan the new project. We agreed to ship the first version in March, "
    "to test it with real customers, and to keep the design simple and clear.",
    "The old lighthouse stood on the rocky cliff for more than a hundred years, guiding ships safely "
    "into the harbour through storms, fog and the long dark nights of winter.",
    "Learning a new language takes patience and practice. Every day I read a short story, write a "
    "few sentences and listen to the radio while I cook dinner.",
]
