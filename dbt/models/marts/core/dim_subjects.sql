-- Subjects with their labels and the stages that teach them (the seed, published for readers).
select
    code as subject_code,
    name_zh,
    name_en,
    string_to_array(stages, '|') as stages
from {{ ref('subjects') }}
