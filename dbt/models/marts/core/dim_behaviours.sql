-- The 9 behaviours of the coding scheme with their labels, S/T code and curve flags (the seed, published for readers).
select
    code as behaviour_code,
    actor,
    position,
    name_zh,
    name_en,
    st_code,
    share_column,
    in_participation,
    in_attention
from {{ ref('behaviour_codes') }}
